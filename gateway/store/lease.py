"""Who of a redundant pair is the leader: a lease with a fencing epoch (sans-IO).

The lease is one database row (holder, epoch, expires_at by the database's clock).  The
leader renews it every ``renew_s``; it lapses ``lease_s`` after the last renewal.  Anyone
may take a lapsed lease, and taking it increments the epoch: every store write checks the
writer's epoch in its own transaction, so a leader that was frozen, partitioned or stuck in
a long query can write nothing once another has taken over (it is fenced).

Why not an advisory lock: it is held for as long as its session lives, and a session lives
on while its holder is frozen (SIGSTOP), stuck inside a long query, or on a machine whose
network is gone (noticed only by TCP keepalive).  Then the standby waits and the pair has
no leader; and a lock released behind the holder's back (its session killed) leaves a
holder that still believes it leads, with nothing to stop its writes.  A lease expires by
the database's clock whatever the holder does, and the epoch stops a stale holder's writes.

This module only decides, from the database's answers and a monotonic clock it is given:
the leader believes it leads until ``lease_s`` after it *sent* its last successful
renewal (earlier than the database's expiry, which counts from when the database ran it),
so it stops publishing before anyone else can take over.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Lease:
    """The local view of the lease.  ``epoch`` is the term this process holds or last held
    (0: never); ``valid_until`` the monotonic time its belief ends."""

    lease_s: float = 3.0
    renew_s: float = 1.0
    epoch: int = 0
    valid_until: float = -1.0
    next_attempt: float = 0.0
    lost: str | None = None  # why a lease once held was lost (the leader steps down)
    renewals: int = 0
    refusals: int = 0  # renewals the database refused (another holds it)
    errors: int = 0  # renewals that did not get an answer

    def active(self, now: float) -> bool:
        return self.lost is None and self.epoch > 0 and now < self.valid_until

    def held(self) -> int:
        """The epoch to claim renewing (-1: not held, so only a lapsed lease is taken)."""
        return self.epoch if self.epoch > 0 and self.lost is None else -1

    def due(self, now: float) -> bool:
        return now >= self.next_attempt

    def answered(self, sent: float, epoch: int | None) -> None:
        """The database's answer to the renewal sent at ``sent``: the epoch now held, or
        None (someone else holds a live lease)."""
        self.next_attempt = sent + self.renew_s
        if epoch is None:
            self.refusals += 1
            if self.epoch > 0 and self.lost is None:
                self.lost = f"the lease of epoch {self.epoch} was taken by another holder"
            return
        if self.epoch > 0 and epoch != self.epoch and self.lost is None:
            # ours lapsed (we were too slow) and we took it again: a new term, but what
            # this process decided in between was never stored; it steps down all the same
            self.lost = f"the lease of epoch {self.epoch} lapsed (taken again as {epoch})"
            return
        if self.lost is not None:
            return
        self.renewals += 1
        self.epoch = epoch
        self.valid_until = sent + self.lease_s

    def failed(self, sent: float) -> None:
        """No answer (connection lost, statement timeout): try again soon; the belief
        ends on its own at ``valid_until``."""
        self.errors += 1
        self.next_attempt = sent + min(self.renew_s, 0.25)

    def check(self, now: float) -> str | None:
        """Why a held lease is no longer held (lapsed locally, or taken), else None."""
        if self.lost is None and self.epoch > 0 and now >= self.valid_until:
            self.lost = (f"the lease of epoch {self.epoch} lapsed: no renewal for "
                         f"{self.lease_s:g} s")
        return self.lost
