"""What the pipeline hands to the sinks: one batch of messages of one kind, as plain data.

A batch says *what* it is (its kind, and for plots and tracks which source sent it); it
does not say where it goes.  Topic names are the topic table's business alone
(``gateway/publish/topics.py``).  The core packages never import this module: the
normaliser returns its own ``SourceBatch`` (kind and source, no topic), and the pipeline,
which assembles the core into what is published, turns each into a ``Published``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """The kinds of batch the gateway publishes.  The values are the normaliser's batch
    kinds for ``PLOTS`` and ``TRACKS`` (``Kind(source_batch.kind)``)."""

    PLOTS = "plots"  # one radar's antenna sector
    TRACKS = "tracks"  # one SDPS's cycle
    PICTURE = "picture"  # one association cycle's fused updates
    AIDC = "aidc"  # border coordination messages
    ALERTS = "alerts"  # alerts for the operator
    REGISTRATION = "registration"  # each radar's estimated biases (associate.registration)


@dataclass(slots=True)
class Published:
    """One batch to publish.

    ``source``: (sac, sic) of the radar or SDPS for ``PLOTS`` and ``TRACKS``, else None.
    ``at``: where in the decode call's datagram stream the batch was closed (a byte offset:
    batches of one call go out in that order).  ``datagram``: the index, in the decode
    call's datagrams, of the one that released the batch; the service looks up its receive
    time with it, for latency (None: no datagram of the call released it).
    """

    kind: Kind
    messages: list[Any]
    source: tuple[int, int] | None = None
    at: int = 0
    datagram: int | None = None
