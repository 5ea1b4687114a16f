"""``TrackTable.new`` gives rows as fresh whichever way it writes them (one row by a plain
index, several by a fancy one): every column its fill, the row lists None, new uids."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.associate.tracks import _COLUMNS, TrackTable


@pytest.mark.parametrize("n", [1, 2, 5])
def test_new_rows_are_fresh_after_any_use(n: int) -> None:
    table = TrackTable(capacity=8, hits=4, models=3)
    table.ensure_sources(3)
    rows = table.new(8)
    rng = np.random.default_rng(n)
    for name in _COLUMNS:  # every row dirtied, then freed
        column = getattr(table, name)
        column[...] = rng.integers(0, 2, column.shape).astype(column.dtype) + 7
    table.hit_t[...] = 1.0
    table.mu[...] = 0.5
    for r in rows.tolist():
        table.label[r], table.callsign_text[r], table.fpl[r] = "T1", "ABC", None
    table.free(rows)
    before = table._next_uid
    fresh = table.new(n)
    for name, (_shape, _dtype, fill) in _COLUMNS.items():
        got = getattr(table, name)[fresh]
        if name == "alive":
            assert got.all()
        elif name == "uid":
            assert got.tolist() == list(range(before, before + n))
        else:
            expected = np.full_like(got, fill)
            assert np.array_equal(got, expected, equal_nan=got.dtype.kind == "f"), name
    assert np.isnan(table.hit_t[fresh]).all() and np.isnan(table.mu[fresh]).all()
    assert (table.trn[fresh] == -1).all()
    assert all(table.label[r] is None and table.callsign_text[r] is None
               for r in fresh.tolist())
