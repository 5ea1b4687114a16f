"""The handoff engine playing the neighbouring units, on the clock of a received picture
(sans-IO): what ``asterix-gateway peer`` and the demo run for the other side of the border.

The neighbour is the same engine as the gateway's (``engine.Handoff``), built with the
other side's units as its own and the gateway's units as its peers: it offers the flights
leaving its units and answers for those entering them.  What it adds is only what a
process that receives the picture over MQTT needs around the engine:

- **The data clock.**  ``now`` for every engine call is the latest fused ``t`` seen, never
  the wall clock: a replay at any speed makes the same dialogues, and every message it
  sends carries data time.  A picture well behind that clock (the gateway's replay
  started again) decides nothing until the data catches up (``picture-behind``), unless
  it is more than ``clock_margin_s`` behind: then the clock is taken for wrong (another
  day's data) and the data's time wins, once, logged (``clock-reset``).  The engine's
  own store clock (``Handoff.resume_after``) keeps a restarted neighbour from repeating
  what it sent before.
- **Late answers** (``delay_s``): an inbound message is handled ``delay_s`` of data time
  after it came, when a picture moves the clock past that; so is one that comes before
  any picture (there is no time to answer at yet).  At most ``hold_max`` wait; beyond
  that the oldest is dropped (``held-dropped``): it was not acknowledged, so its sender
  sends it again.
- **Silence** (``ignore``): messages of these types are dropped unanswered (not even
  LAM), so that tests can exercise a sender's retries and timeouts.

Hostile input is counted and skipped: a message whose handling raises is taken back by
the engine (``Handoff.rollback``), counted (``handler-errors``) and refused with LRM.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.handoff.engine import Handoff, utc_text
from gateway.handoff.text import AidcSyntaxError, parse
from gateway.messages import Aidc, Fused

HOLD_MAX = 10_000  # inbound messages waiting for their (late) answer
BEHIND_S = 60.0  # a picture this far behind the data clock decides nothing


@dataclass(frozen=True, slots=True)
class Held:
    """An inbound message waiting to be handled: at data time ``due``."""

    due: float
    message: Aidc
    via: tuple[str, str] | None


class Neighbour:
    def __init__(self, engine: Handoff, *, delay_s: float = 0.0,
                 ignore: frozenset[str] = frozenset(), hold_max: int = HOLD_MAX) -> None:
        self.engine = engine
        self.delay_s = delay_s
        self.ignore = ignore
        self.hold_max = hold_max
        # after a restore the store's clock: data older than it decides nothing
        self.clock = engine.resume_after if math.isfinite(engine.resume_after) else -math.inf
        self.held: deque[Held] = deque()
        self.counters: Counter[str] = Counter()
        self.notices: list[str] = []  # one line each, for the caller to log

    @property
    def units(self) -> tuple[str, ...]:
        return self.engine.p.units

    def picture(self, fused: Sequence[Fused]) -> list[Any]:
        """One association cycle's fused updates as the gateway published them: the
        engine's update and its LAM timer at the picture's time, and the held messages
        now due; what to publish (aidc, alerts)."""
        times = [m.t for m in fused if math.isfinite(m.t)]
        if not times:
            self.counters["picture-empty"] += 1
            return []
        t = max(times)
        behind = self.clock - t
        if behind > self.engine.p.clock_margin_s:
            self.counters["clock-reset"] += 1
            self.notices.append(f"picture at {utc_text(t)} is {behind:.0f} s behind the data "
                                f"clock ({utc_text(self.clock)}), more than clock_margin_s: "
                                "the data's time wins from now on")
            self.clock = t
        elif behind > BEHIND_S:
            self.counters["picture-behind"] += 1
            return []
        self.clock = max(self.clock, t)
        self.counters["pictures"] += 1
        out = self.engine.update(fused, self.clock)
        out += self._release()
        out += self.engine.tick(self.clock)
        return out

    def receive(self, message: Aidc, via: tuple[str, str] | None = None) -> list[Any]:
        """One inbound AIDC message (its envelope decoded; ``via``: the units its topic
        names); answered now, or held for ``delay_s`` of data time."""
        self.counters["received"] += 1
        if self._kind(message) in self.ignore:
            self.counters["ignored"] += 1
            return []
        if self.delay_s > 0 or not math.isfinite(self.clock):
            self.held.append(Held(self.clock + self.delay_s, message, via))
            if len(self.held) > self.hold_max:
                self.held.popleft()
                self.counters["held-dropped"] += 1
            return []
        return self._handle(message, via)

    @staticmethod
    def _kind(message: Aidc) -> str:
        """The message type its text says (what the engine acts on), else the envelope's."""
        try:
            return parse(message.text).msg
        except AidcSyntaxError:
            return message.msg

    def _release(self) -> list[Any]:
        """Held messages whose time has come, in the order they came."""
        out: list[Any] = []
        while self.held and (self.held[0].due <= self.clock or not math.isfinite(
                self.held[0].due)):
            held = self.held.popleft()
            out += self._handle(held.message, held.via)
        return out

    def _handle(self, message: Aidc, via: tuple[str, str] | None) -> list[Any]:
        try:
            return self.engine.receive(message, self.clock, via)
        except Exception as exc:  # a bug on hostile input: the engine took it back
            self.counters["handler-errors"] += 1
            self.notices.append(f"AIDC from {message.from_} serial {message.serial}: cannot "
                                f"handle it: {exc!r}")
            try:
                return self.engine.refuse(message, "CANNOT HANDLE IT", self.clock)
            except Exception:  # noqa: BLE001 - counted; nothing more to do for it
                self.counters["refusal-errors"] += 1
                return []
