"""The handoff engine and its airspace as the configuration describes them.

Only the engine: where its state is kept (``[handoff] database``) is the service's to
open and close (``gateway.store``), not the core's.
"""

from __future__ import annotations

from dataclasses import fields

from gateway.config import Config
from gateway.handoff.airspace import Airspace
from gateway.handoff.engine import Handoff
from gateway.handoff.parameters import HandoffParameters


def handoff_from_config(config: Config) -> Handoff | None:
    h = config.handoff
    if h is None:
        return None
    # [handoff] is HandoffParameters plus where the airspace and the store are: the engine
    # takes the parameters part
    params = HandoffParameters(**{f.name: getattr(h, f.name) for f in fields(HandoffParameters)})
    return Handoff(Airspace.load(h.airspace), params)
