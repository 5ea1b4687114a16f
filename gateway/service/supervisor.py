"""Every long-lived task of the service under one supervisor, so that none stops silently.

A task that raises is logged with its traceback, its reason is kept in ``failures`` (which
makes ``/health`` 503 and is listed there) and, by ``[service] on_task_failure``:

- ``"restart"``: it is started again after a backoff (1 s doubling to 30 s), each restart
  counted; once it has been restarted ``task_restart_limit`` times the gateway stops as
  below, because a task that keeps failing will not heal by itself;
- ``"stop"``: the gateway stops (what was received still goes through, the outbox drains)
  and the command exits non-zero with the reason (``fatal``).

A task that returns is done (the pipeline when its sources end); cancelling is how the
service ends a task, never a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, Literal

log = logging.getLogger(__name__)

Policy = Literal["restart", "stop"]
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 30.0


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line of bounded length (a message may hold hostile text)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Supervisor:
    """Runs named tasks; ``stop()`` is called when the policy says the gateway must end."""

    def __init__(self, policy: Policy, restart_limit: int, stop: Callable[[], None], *,
                 backoff_min_s: float = BACKOFF_MIN_S,
                 backoff_max_s: float = BACKOFF_MAX_S) -> None:
        self.policy = policy
        self.restart_limit = restart_limit
        self.stop = stop
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.failures: dict[str, str] = {}  # task -> why it is down, while it is
        self.counters: Counter[str] = Counter()  # "failures/{task}", "restarts/{task}"
        self.fatal: str | None = None  # why the gateway stopped, if a task made it
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]
              ) -> asyncio.Task[None]:
        """Run ``work()`` as task ``name``, again after a failure if the policy says so."""
        task = asyncio.create_task(self._keep(name, work), name=name)
        self.tasks[name] = task
        return task

    async def _keep(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        backoff = self.backoff_min_s
        while True:
            try:
                await work()
                return
            except Exception as exc:  # noqa: BLE001 - every failure is the supervisor's
                reason = one_line(exc)
                self.failures[name] = reason
                self.counters[f"failures/{name}"] += 1
                log.error("task %s failed: %s", name, reason, exc_info=exc)
            restarts = self.counters[f"restarts/{name}"]
            if self.policy == "stop" or restarts >= self.restart_limit:
                why = ('on_task_failure = "stop"' if self.policy == "stop"
                       else f"restarted {restarts} times already (task_restart_limit)")
                if self.fatal is None:
                    self.fatal = f"task {name} failed: {self.failures[name]}; stopping ({why})"
                    log.error("%s", self.fatal)
                self.stop()
                return
            log.warning("task %s: restarting in %.1f s (restart %d of at most %d)", name,
                        backoff, restarts + 1, self.restart_limit)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)
            self.counters[f"restarts/{name}"] += 1
            del self.failures[name]

    async def cancel(self, name: str) -> None:
        """End task ``name`` (if it runs) and wait until it has."""
        task = self.tasks.get(name)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
