"""Process-wide tuning for the long-running gateway: the allocator and the garbage collector.

Both change the whole process, so neither happens on ``import gateway``: a program that
uses ``gateway.decode`` as a library keeps its own allocator and collector settings.  The
service's commands (``run``, ``replay``, ``demo``) call ``tune_for_service`` once, after
the service is built and before it runs.
"""

from __future__ import annotations

import ctypes
import gc
import sys

# Every decode call fills fresh arrays, chunk after chunk.  glibc hands large blocks back to
# the kernel when they are freed and takes page faults to get them again.  A gateway decodes
# for days, so freed memory stays in the heap for the next chunk instead (it is still
# reused; only returning it to the kernel stops).  Measured with ``pytest
# benchmarks/test_decode_speed.py --benchmark-enable -k cython`` (20,000 CAT048 plots a
# call), two runs each, on this 2-core machine while it was shared (load average 6):
# median 30.5 and 30.8 ms a call without it, 19.5 and 16.4 ms with it.  Unloaded, the
# README's figure (6,160,000 records/s) was measured with it; without it page faults
# took half of decode time.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_KEEP = 256 << 20


def keep_freed_memory() -> bool:
    """glibc's mallopt: keep up to 512 MiB of freed memory in the heap.  False where there
    is no glibc (another libc, another system): nothing is changed there."""
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # glibc only
    if mallopt is None:
        return False
    mallopt(_M_MMAP_THRESHOLD, _HEAP_KEEP)
    mallopt(_M_TRIM_THRESHOLD, 2 * _HEAP_KEEP)
    return True


def tune_for_service() -> None:
    """The allocator and the collector set for a process that runs the gateway for days.

    Everything made so far (modules, tables, the pipeline) lives as long as the process:
    ``gc.freeze`` moves it out of the cyclic collector's sight.  Otherwise each full
    collection walks it all, a 20 ms pause measured here, the whole latency budget.
    """
    keep_freed_memory()
    gc.collect()
    gc.freeze()
