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


def test_a_kernels_views_are_taken_again_only_for_new_arrays() -> None:
    """``views_of``: the same views while the table's arrays are the same objects; new ones
    when the table grew (it makes new arrays) or is another table."""
    from gateway import _cycle
    from gateway.associate.tracks import views_of

    table = TrackTable(capacity=4, hits=3, models=1)

    def columns(t: TrackTable) -> tuple[np.ndarray, ...]:
        return (t.state, t.t_update, t.n_updates, t.hit_t, t.ident, t.tracked, t.sdps,
                t.roc_sdps)

    first = views_of(None, _cycle.AbsorbTable, *columns(table))
    assert views_of(first, _cycle.AbsorbTable, *columns(table)) is first
    table.new(5)  # past its capacity: it grows
    grown = views_of(first, _cycle.AbsorbTable, *columns(table))
    assert grown is not first and grown.views(*columns(table))
    other = TrackTable(capacity=4, hits=3, models=1)
    assert views_of(grown, _cycle.AbsorbTable, *columns(other)) is not grown
