"""The shipped sample data, installed as the package ``gateway.captures``.

``border-10min.pcap.gz`` (ten minutes of the simulated border scenario), ``border.toml``
(its configuration) and ``border-airspace.geojson`` (the units and COPs its handoff uses)
are package data, so that ``asterix-gateway demo`` runs from a wheel, an sdist or a plain
``pip install .`` in any directory.  ``decoder-sample.pcap`` is the small all-category
sample of the README's Python example.  The ground truth of the capture (10 MB) stays in the
repository: only the tests and ``evaluate`` examples need it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib.resources import as_file, files
from pathlib import Path

SHIPPED = ("border-10min.pcap.gz", "border.toml", "border-airspace.geojson",
           "decoder-sample.pcap")


def shipped(name: str) -> AbstractContextManager[Path]:
    """A real file path for one shipped file, for as long as the context lasts (a zipped
    install extracts it to a temporary file; an ordinary one gives the installed path)."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not shipped data (shipped: {', '.join(SHIPPED)})")
    return as_file(files(__name__) / name)
