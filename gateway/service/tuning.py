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

# The collector's first generation is collected when the tracked objects made minus those
# freed pass this threshold (CPython's default: 700).  The gateway makes and frees hundreds
# of thousands of short-lived containers a minute, and at 700 that net growth still set off
# some 620 collections in the 10-minute replay (``gateway replay
# captures/border-10min.pcap.gz --speed max``), 0.26 s of its ~7 s of CPU as measured with
# ``gc.callbacks``.  At 10,000 it sets off none during that replay (its collections are
# all at start-up, before ``tune_for_service``) and the peak memory is the same (159 MB
# max RSS either way).  A collection of the first generation now walks up to that many
# young objects: the few seen in a live run took 1 to 5 ms, against some 0.2 ms at 700, far
# below the 20 ms of a full collection that the freeze avoids.
_GEN0_THRESHOLD = 10_000


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
    collection walks it all, a 20 ms pause measured here, the whole latency budget.  The
    first generation's threshold is raised (``_GEN0_THRESHOLD`` says why and by how much).
    """
    keep_freed_memory()
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GEN0_THRESHOLD, *gc.get_threshold()[1:])
