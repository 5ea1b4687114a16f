"""Plan messages in (a file read at start, MQTT payloads), plans out on fused tracks.

``PlanFeed`` holds the book and the correlator of a gateway with a ``[flightplans]``
section; ``plans_from_config`` builds it and files the plan file's messages (the file is
read once, bounded, as the handoff's airspace is).  Every message is hostile: one that is
not ASCII text or does not parse is counted (``fpl-undecodable``, ``fpl-refused``), logged
(the first ten, then every thousandth) and skipped.
"""

from __future__ import annotations

import logging
from collections import Counter

from gateway.config import Config
from gateway.files import PLAN_FILE_MAX, InputFileError, read_limited
from gateway.flightplan.ats import AtsSyntaxError, parse_many
from gateway.flightplan.book import Book
from gateway.flightplan.correlate import Correlator
from gateway.messages import Alert, Fused

log = logging.getLogger(__name__)

MAX_PAYLOAD = 256 << 10  # one MQTT payload: a few hundred plans at most
MAX_PER_PAYLOAD = 1000


class PlanFeed:
    def __init__(self, book: Book) -> None:
        self.book = book
        self.correlator = Correlator(book)
        self.counters: Counter[str] = Counter()

    def take(self, text: str, now: float | None, where: str,
             limit: int = MAX_PER_PAYLOAD) -> int:
        """File every message of ``text`` (from ``where``, for the log) at ``now`` (None:
        before any data time); how many were filed."""
        filed = 0
        for item in parse_many(text, limit):
            if isinstance(item, AtsSyntaxError):
                self.counters["fpl-refused"] += 1
                refused = self.counters["fpl-refused"]
                if refused <= 10 or refused % 1000 == 0:
                    log.warning("flight plan from %s refused: %s (%d so far)", where, item,
                                refused)
                continue
            self.book.file(item, now)
            filed += 1
        return filed

    def receive(self, payload: bytes, now: float, topic: str) -> int:
        """One MQTT payload (hostile until parsed)."""
        self.counters["fpl-inbound"] += 1
        if len(payload) > MAX_PAYLOAD:
            self.counters["fpl-undecodable"] += 1
            return 0
        try:
            text = payload.decode("ascii")
        except UnicodeDecodeError:
            self.counters["fpl-undecodable"] += 1
            return 0
        return self.take(text, now, topic)

    def attach(self, fused: list[Fused]) -> tuple[list[Fused], list[Alert]]:
        return self.correlator.attach(fused)

    def all_counters(self) -> Counter[str]:
        return self.counters + self.book.counters + self.correlator.counters


def plans_from_config(config: Config) -> PlanFeed | None:
    """The feed of a ``[flightplans]`` section, its file's plans on file; None without one.
    A file that cannot be read is an ``InputFileError`` (one line)."""
    f = config.flightplans
    if f is None:
        return None
    feed = PlanFeed(Book(window_before_s=f.window_before_s, window_after_s=f.window_after_s,
                         max_plans=f.max_plans))
    if f.file is not None:
        data = read_limited(f.file, PLAN_FILE_MAX, "a flight plan file")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{f.file}: not ASCII text (byte {exc.start})") from None
        filed = feed.take(text, None, f.file, limit=len(text))
        log.info("flight plans: %d messages filed from %s, %d refused", filed, f.file,
                 feed.counters["fpl-refused"])
    return feed
