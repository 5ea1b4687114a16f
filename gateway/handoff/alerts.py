"""Alerts about floods, rate-limited (sans-IO: the windows run on the time passed in).

A peer that sends 20,000 bad messages must not become 20,000 QoS 1 alerts that bury the
one an operator needs.  Alerts of one type about one peer go out as they come for a small
``burst`` within a ``window_s``; beyond it they are held and counted, and when the window
ends one summary alert says how many ("N more lrm-received from KZHU in the last 60 s").
The windows are keyed by (type, peer): bounded by the configured peers and the engine's
few alert types.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.messages import Alert


@dataclass
class _Window:
    start: float
    count: int = 1
    held: int = 0


class AlertLimiter:
    def __init__(self, burst: int = 5, window_s: float = 60.0) -> None:
        self.burst = burst
        self.window_s = window_s
        self.windows: dict[tuple[str, str], _Window] = {}
        self.suppressed = 0  # held alerts, since start

    def _ended(self, w: _Window, now: float) -> bool:
        # a clock that went back (another time base) ends the window too
        return now >= w.start + self.window_s or now < w.start

    def admit(self, type_: str, peer: str, now: float, out: list[Alert]) -> bool:
        """May an alert of ``type_`` about ``peer`` go out now?  A summary of the window
        this one ends is appended to ``out`` first."""
        key = (type_, peer)
        w = self.windows.get(key)
        if w is None or self._ended(w, now):
            if w is not None and w.held:
                out.append(self._summary(key, w, now))
            self.windows[key] = _Window(now)
            return True
        w.count += 1
        if w.count <= self.burst:
            return True
        w.held += 1
        self.suppressed += 1
        return False

    def due(self, now: float) -> list[Alert]:
        """The summaries of the windows that have ended by ``now``; ended windows go."""
        out = []
        for key, w in list(self.windows.items()):
            if self._ended(w, now):
                if w.held:
                    out.append(self._summary(key, w, now))
                del self.windows[key]
        return out

    def _summary(self, key: tuple[str, str], w: _Window, now: float) -> Alert:
        type_, peer = key
        return Alert(t=now, type=type_, track_id=None,
                     text=f"{w.held} more {type_} from {peer} in the last "
                     f"{self.window_s:.0f} s")
