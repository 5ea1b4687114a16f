"""The typed face of the Cython walker (ext/decoder.pyx), so its callers are checked.

Only gateway/decoder.py calls it; keep this file in step with the ``def`` functions and the
public attributes of ``_Rows`` in ext/decoder.pyx.
"""

import numpy as np
from numpy.typing import NDArray

PROBLEMS: tuple[str, ...]

# Per category, as gateway/asterix/layout.py derives it: uap, nodes, children, spec, scales
# (flat int32 arrays, float64 scales), then the widths of the int, float and char columns.
Table = tuple[
    NDArray[np.int32], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32],
    NDArray[np.float64], int, int, int,
]

class _Rows:
    """Rows of one category; arrays are allocated ahead, only the first ``n`` rows are valid."""

    n: int
    rec_offset: NDArray[np.int64]
    rec_length: NDArray[np.int32]
    datagram: NDArray[np.int32]
    item_start: NDArray[np.uint16]
    item_length: NDArray[np.uint16]
    ints: NDArray[np.int32]
    floats: NDArray[np.float64]
    chars: NDArray[np.uint8]
    present: NDArray[np.uint8]
    def __init__(self, nfrn: int, nint: int, nfloat: int, nchar: int, ncol: int,
                 cap: int) -> None: ...

def set_icao_chars(table: bytes) -> None: ...

def walk(
    buf: NDArray[np.uint8],
    starts: NDArray[np.int64],
    cat_index: NDArray[np.int32],
    tables: list[Table],
    problems: NDArray[np.int64],
) -> tuple[list[_Rows], int]: ...
