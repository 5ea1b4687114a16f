"""The handoff as the configuration describes it: engine, airspace and store."""

from __future__ import annotations

import logging

from gateway.config import Config
from gateway.handoff.airspace import Airspace
from gateway.handoff.engine import Handoff, HandoffParameters
from gateway.handoff.store import Store

log = logging.getLogger(__name__)


def handoff_from_config(config: Config) -> tuple[Handoff, Store | None] | None:
    h = config.handoff
    if h is None:
        return None
    params = HandoffParameters(
        units=h.units, peers=h.peers, cpl_to=h.cpl_to, abi_lead_s=h.abi_lead_s,
        est_lead_s=h.est_lead_s, toc_lead_s=h.toc_lead_s, cdn_level_fl=h.cdn_level_fl,
        cdn_time_s=h.cdn_time_s, hysteresis=h.hysteresis, lam_timeout_s=h.lam_timeout_s,
        lam_tries=h.lam_tries)
    engine = Handoff(Airspace.load(h.airspace), params)
    store = None
    if h.database:
        store = Store(h.database)
        n = store.restore(engine)
        if n:
            log.info("handoff: %d dialogues restored from %s", n, h.database)
    return engine, store
