"""The shipped sample capture is exactly what its recipe makes, and decodes completely."""

from __future__ import annotations

from pathlib import Path

import sample_capture

import gateway


def test_shipped_sample_is_regenerated_bit_exactly(tmp_path: Path) -> None:
    fresh = tmp_path / "sample.pcap"
    sample_capture.write(fresh)
    assert fresh.read_bytes() == sample_capture.PATH.read_bytes()


def test_sample_decodes_every_record_without_problems() -> None:
    decoded = gateway.decode(sample_capture.PATH)
    assert {c: len(b) for c, b in decoded.batches.items()} == {34: 2, 48: 24, 62: 5, 65: 1}
    assert decoded.problems.total == 0
    plots = decoded.batches[48]
    # every sixth plot is primary-only: no Mode-3/A, masked rather than zero
    assert plots["070/MODE3A"].mask.tolist() == [i % 6 == 0 for i in range(24)]
    assert plots["020/TYP"].tolist() == [1 if i % 6 == 0 else 5 for i in range(24)]
    tracks = decoded.batches[62]
    assert tracks["390/DEP"].tolist() == [b"MMMX"] * 5
    assert abs(tracks["105/LAT"][0] - 25.5) <= 180 / 2**26  # within half an LSB
