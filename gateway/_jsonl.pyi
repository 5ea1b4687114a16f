"""The typed face of the JSON-lines writer (ext/jsonl.pyx), so its callers are checked.

Only gateway/render.py calls it; keep this file in step with the ``def`` functions and the
``Program`` class of ext/jsonl.pyx.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

class Program:
    """One category's formatting tables, as gateway/render.py ``program_tables`` makes them."""

    category: int
    def __init__(self, category: int, tables: tuple[NDArray[Any], ...], lits: bytes) -> None:
        """``tables``: per FRN its node and item key, then nodes, ops, parts, slots and
        choices (int32, flattened), scales (float64) and literal offsets (int32)."""

# Per batch: its Program, then record_offset (int64), record_length (int32), t_capture
# (float64), item_start and item_length (uint16 [n, FRNs]), SAC (int32) and its presence
# (uint8), SIC and its presence.
BatchArrays = tuple[
    Program, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64], NDArray[np.uint16],
    NDArray[np.uint16], NDArray[np.int32], NDArray[np.uint8], NDArray[np.int32],
    NDArray[np.uint8],
]

class Lines:
    """The JSON lines of one render: a read-only bytes-like buffer."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

def set_icao_chars(table: bytes) -> None: ...
def format_float(v: float) -> bytes: ...
def render(data: NDArray[np.uint8], batches: list[BatchArrays], which: NDArray[np.int32],
           rows: NDArray[np.int64]) -> Lines: ...
