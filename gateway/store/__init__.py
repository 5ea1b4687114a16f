"""Where the gateway's state outlives the process: one interface, implementations beside it.

The core (the pipeline, the handoff engine) is handed a store and writes through this
interface only; it never opens a file or imports an implementation.  The service shell
chooses one (``sqlite.SqliteStore``, the embedded default, from ``[handoff] database``),
opens it, passes it in and closes it however the run ends.  ``postgres.PostgresStore``
(``[store] url``) is shared by a redundant pair and holds its lease (``lease.Lease``).
``memory.MemoryStore`` keeps the same state in the process, for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gateway.handoff.engine import Handoff


class StoreError(Exception):
    """A store that cannot be opened or read (a one-line reason)."""


class HandoffStore(Protocol):
    """The handoff's dialogue state: flights, link serials and the messages awaiting LAM,
    the peers' recent serials, the data clock (``state.Saved``).

    ``save`` is called after every engine call that changed any of it, before what the
    call returned is published, and must be all or nothing: a crash before it leaves the
    state as if the call never happened (none of its messages went out); after it, the
    messages are recorded as sent and awaiting LAM, and are sent again (same serials).
    """

    def restore(self, engine: Handoff) -> int:
        """Put the stored state into a fresh engine; returns how many dialogues."""
        ...

    def save(self, engine: Handoff) -> None:
        """What changed since the last save (``engine.unsaved()``), in one transaction."""
        ...

    def identities(self) -> dict[str, Any] | None:
        """The fused ids' sequence and identity map as last saved (``Identities.to_json``;
        None: nothing seen).  Kept beside the dialogues so that a restarted gateway never
        hands out an id twice (``gateway.associate.identity``)."""
        ...

    def keep_identities(self, data: dict[str, Any]) -> None:
        """Written with the next ``save``, in its transaction (the pipeline hands it in
        just before each save)."""
        ...

    def live_tracks(self) -> dict[str, Any] | None:
        """The live tracks the active process last saved (``takeover.states_json``; None:
        none): a redundant pair's process taking over gives its tracks their ids."""
        ...

    def keep_tracks(self, data: dict[str, Any]) -> None:
        """Written with the next ``save``, in its transaction, like ``keep_identities``."""
        ...

    def close(self) -> None:
        ...
