"""The handoff as the configuration describes it: engine, airspace and store."""

from __future__ import annotations

import logging
from dataclasses import fields

from gateway.config import Config
from gateway.handoff.airspace import Airspace
from gateway.handoff.engine import Handoff, HandoffParameters
from gateway.handoff.store import Store

log = logging.getLogger(__name__)


def handoff_from_config(config: Config) -> tuple[Handoff, Store | None] | None:
    h = config.handoff
    if h is None:
        return None
    # every parameter the [handoff] section sets, under the same name; the rest default
    params = HandoffParameters(**{f.name: getattr(h, f.name) for f in fields(HandoffParameters)
                                  if hasattr(h, f.name)})
    engine = Handoff(Airspace.load(h.airspace), params)
    store = None
    if h.database:
        store = Store(h.database)
        n = store.restore(engine)
        if n:
            log.info("handoff: %d dialogues restored from %s", n, h.database)
    return engine, store
