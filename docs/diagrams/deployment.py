"""Draws docs/deployment.svg: the layers of a deployment (docs/deployment.md) — radars, site
gateways, the three-node broker cluster, the redundant centre pair and its PostgreSQL, the
neighbouring units (AIDC) and the web map — with each tier's measured capacity.

    python docs/diagrams/deployment.py [OUT.svg]

Needs matplotlib (the ``plot`` or ``test`` extra: pip install 'asterix-gateway[plot]').
The figures in the boxes are docs/deployment.md's "Capacity" table; keep them in step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "deployment.svg"

SITE, BROKER, CENTRE, DB, OUTSIDE = "#dbe9f6", "#fde9c9", "#d9f0d3", "#ead9f0", "#eeeeee"


def box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, colour: str,
        *, size: float = 9.0, weight: str = "normal", dashed: bool = False) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#333333", linewidth=1.0,
                                linestyle="--" if dashed else "-"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size,
            fontweight=weight, linespacing=1.3)


def arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], label: str = "",
          *, both: bool = False, offset: tuple[float, float] = (0.0, 0.12),
          rad: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="<|-|>" if both else "-|>",
                                 mutation_scale=11, linewidth=1.1, color="#333333",
                                 connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))
    if label:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1],
                label, ha="center", va="bottom", fontsize=7.5, color="#222222")


def draw(out: Path) -> None:
    plt.rcParams["svg.hashsalt"] = "asterix-gateway-deployment"  # the same file every time
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    fig, ax = plt.subplots(figsize=(14.0, 7.2))
    ax.set_xlim(0, 14.0)
    ax.set_ylim(0, 7.2)
    ax.axis("off")

    # radars and site gateways
    ax.text(1.55, 6.85, "radar sites", ha="center", fontsize=10, fontweight="bold")
    sites = [(5.3, "site gateway A"), (3.55, "site gateway B"), (1.8, "site gateway C")]
    for y, name in sites:
        box(ax, 0.15, y + 0.35, 0.9, 0.7, "radars\nSDPS", OUTSIDE, size=8)
        box(ax, 1.5, y, 1.9, 1.4, f"{name}\nrun, [associate]\nenabled = false", SITE, size=8.5)
        arrow(ax, (1.05, y + 0.7), (1.5, y + 0.7))
    ax.text(0.6, 1.45, "ASTERIX over\nUDP multicast", ha="center", va="top", fontsize=7.5)
    ax.text(2.45, 1.45, "decode, normalise\n273 radars of 100 plots/s\nat half a core",
            ha="center", va="top", fontsize=7.5, style="italic")

    # the broker cluster
    ax.add_patch(FancyBboxPatch((5.05, 1.6), 2.6, 5.3, boxstyle="round,pad=0.02",
                                facecolor="#fff8ec", edgecolor="#b07000", linewidth=1.2))
    ax.text(6.35, 6.4, "broker cluster\nNATS, JetStream, MQTT 3.1.1", ha="center", va="center",
            fontsize=9, fontweight="bold")
    for y, name in ((4.75, "broker-a"), (3.35, "broker-b"), (1.95, "broker-c")):
        box(ax, 5.35, y, 2.0, 1.0, f"{name}\n:1883 MQTT, :6222 routes", BROKER, size=8)
    ax.plot([6.35, 6.35], [2.95, 3.35], color="#b07000", lw=1.5)
    ax.plot([6.35, 6.35], [4.35, 4.75], color="#b07000", lw=1.5)
    ax.text(6.35, 1.45, "stream_replicas = 3\n43,519 messages/s through it",
            ha="center", va="top", fontsize=7.5, style="italic")
    for y, _ in sites:
        arrow(ax, (3.4, y + 0.7), (5.35, 4.95 + (y - 1.8) * 0.1))
    ax.text(4.25, 6.25, "site/v1/plots/#\nsite/v1/tracks/#\nQoS 0, [mqtt] urls\nfail over",
            ha="center", va="bottom", fontsize=7.5)

    # the centre pair and its database
    ax.add_patch(FancyBboxPatch((9.05, 2.75), 2.5, 3.85, boxstyle="round,pad=0.02",
                                facecolor="#f3fbf1", edgecolor="#3b7d2a", linewidth=1.2))
    ax.text(10.3, 6.3, "redundant centre", ha="center", va="center", fontsize=9,
            fontweight="bold")
    box(ax, 9.3, 4.55, 2.0, 1.3, "centre (active)\nassociate, handoff,\npublish centre/v1",
        CENTRE, size=8.5)
    box(ax, 9.3, 3.0, 2.0, 1.3, "centre (standby)\ncomputes the same,\npublishes nothing",
        CENTRE, size=8.5, dashed=True)
    ax.text(10.3, 2.6, "53 radars of 100 plots/s\nat half a core", ha="center", va="top",
            fontsize=7.5, style="italic")
    arrow(ax, (7.35, 5.35), (9.3, 5.35), "site/v1/# in,\ncentre/v1/# out", both=True,
          offset=(0.0, -0.5))
    arrow(ax, (7.35, 5.0), (9.3, 3.65), "site/v1/# in", offset=(0.1, -0.55))
    box(ax, 9.3, 0.35, 2.0, 1.1, "PostgreSQL\nlease (epoch),\nhandoff state", DB, size=8.5)
    arrow(ax, (9.7, 4.55), (9.7, 1.45))
    arrow(ax, (10.9, 3.0), (10.9, 1.45))
    ax.text(11.45, 0.9, "lease_s = 3 s:\ntakeover ~3 s", ha="left", va="center", fontsize=7.5)

    # outside: the neighbours and the people
    box(ax, 12.25, 4.95, 1.6, 1.1, "peers (AIDC)\nKZAB, KZHU, KZLA", OUTSIDE, size=8)
    arrow(ax, (12.25, 5.7), (7.35, 5.6), both=True, rad=0.15)
    ax.text(10.3, 7.05, "centre/v1/aidc/... through the cluster (QoS 1)", ha="center",
            va="center", fontsize=7.5)
    box(ax, 12.25, 3.2, 1.6, 1.0, "web map\n(browsers)", OUTSIDE, size=8)
    arrow(ax, (11.3, 4.9), (12.25, 3.9), "HTTP :8080", offset=(0.35, 0.0))
    box(ax, 12.25, 1.6, 1.6, 1.0, "monitoring\n/metrics, /health", OUTSIDE, size=8)
    arrow(ax, (12.25, 2.1), (11.3, 3.3), ":9810", offset=(0.3, -0.1))

    fig.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    draw(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
