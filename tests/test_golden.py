"""Golden records: hex worked out by hand from the specifications, decoded by both decoders.

Each record is decoded by the reference codec (exact item values asserted) and by the Cython
Decoder (columns asserted, and its item offsets must give the reference the same record).
The bit arithmetic behind each byte is in the comments next to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from asterix_samples import (
    assert_columns_equal,
    batch_columns,
    codec,
    reference_columns,
    sample_bytes,
)

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import RecordCodec, datablock
from gateway.decoder import Batch, Decoder


def decode_both(cat: int, *records_hex: str) -> tuple[list[dict[str, Any]], Batch]:
    """Records (hex) -> reference items per record, and the Decoder's batch of one block."""
    records = [bytes.fromhex(h.replace(" ", "")) for h in records_hex]
    items = []
    for data in records:
        decoded, length = codec(cat).decode_record(data)
        assert length == len(data), "the reference codec must consume exactly the record"
        items.append(decoded)
    batches, problems = Decoder().decode(datablock(cat, records), [1.5])
    assert problems.total == 0, problems.summary()
    assert set(batches) == {cat}
    batch = batches[cat]
    assert len(batch) == len(records)
    assert [int(n) for n in batch.record_length] == [len(r) for r in records]
    assert list(batch.t_capture) == [1.5] * len(records)
    for row, expected in enumerate(items):
        assert batch.record(row) == expected
        assert_columns_equal(batch_columns(batch, row), reference_columns(cat, expected),
                             f"CAT{cat:03d} row {row}")
    return items, batch


def col(batch: Batch, path: str, row: int = 0) -> Any:
    assert batch.present[path][row], f"{path} should be present"
    return batch.columns[path][row]


def absent(batch: Batch, path: str, row: int = 0) -> bool:
    return not batch.present[path][row]


# --------------------------------------------------------------------------- CAT048

CAT048_A = """
FD DF 0A
19 C9
54 60 40
A5 90
C5 AF 40 00
4F C0
3F FA
A1 B2 C3
08 15 F1 CA 08 20
0A BC
FA C0 0A 20
08 00 80 00
C1 80
3F D8
20 F5
"""
# FSPEC  FD = 1111 1101: FRN1-6 (010 140 020 040 070 090), FX
#        DF = 1101 1111: FRN8 220, FRN9 240, FRN11 161, FRN12 042, FRN13 200, FRN14 170, FX
#        0A = 0000 1010: FRN19 110, FRN21 230
# 010    SAC 0x19 = 25, SIC 0xC9 = 201
# 140    0x546040 = 5529664 / 128 = 43200.5 s
# 020    A5 = 101 0 0 1 0 1: TYP 5, SIM 0, RDP 0, SPI 1, RAB 0, FX
#        90 = 1 0 0 1 0 00 0: TST 1, ERR 0, XPP 0, ME 1, MI 0, FOEFRI 0
# 040    RHO 0xC5AF = 50607 / 256 = 197.68359375 NM, THETA 0x4000 * 360 / 2**16 = 90 deg
# 070    4FC0 = 0 1 0 0 | 111 111 000 000: V 0, G 1, L 0, Mode-3/A 7700 (emergency)
# 090    3FFA = 0 0 | 14-bit 0x3FFA = 16378 - 16384 = -6 -> FL -1.5
# 220    A1B2C3
# 240    B A W 1 2 sp sp sp = 2 1 23 49 50 32 32 32 in 6 bits:
#        000010 000001 010111 110001 110010 100000 100000 100000 = 08 15 F1 CA 08 20
# 161    0ABC = 2748
# 042    X 0xFAC0 = 64192 - 65536 = -1344 / 128 = -10.5 NM, Y 0x0A20 = 2592 / 128 = 20.25 NM
# 200    GSP 0x0800 = 2048 * 2**-14 = 0.125 NM/s (450 kt), HDG 0x8000 -> 180 deg
# 170    C1 = 1 10 0 0 00 1: CNF 1, RAD 2, DOU 0, MAH 0, CDM 0, FX; 80 = TRE 1
# 110    3FD8 = 00 | 14-bit 0x3FD8 = 16344 - 16384 = -40 * 25 ft = -1000 ft
# 230    20 F5 = 001 000 0 0 | 1 1 1 1 0101: COM 1, STAT 0, SI 0, MSSC ARC AIC B1A 1, B1B 5

CAT048_B = """
97 21 41 04
01 02
00 01 FF FF
DF FF
A2 10 B5 FF
02 C0 78 00 31 BC 00 00 40 00 00 00 00 00 00 00 60
05 22
04 AB CD 12
"""
# FSPEC  97 = 1001 0111: FRN1 010, FRN4 040, FRN6 090, FRN7 130, FX
#        21 = 0010 0001: FRN10 250, FX;  41 = FRN16 030, FX;  04 = FRN27 SP
# 040    RHO 1/256 = 0.00390625 NM, THETA 0xFFFF = 360 - 360/2**16 = 359.9945068359375 deg
# 090    DFFF = 1 1 | 0x1FFF = 8191 * 0.25: V 1, G 1, FL 2047.75
# 130    sub-FSPEC A2 = 1010 0010: SRL, SAM, APD.  SRL 0x10 * 360/2**13 = 0.703125 deg,
#        SAM 0xB5 = 181 - 256 = -75 dBm, APD 0xFF = -1 * 360/2**14 = -0.02197265625 deg
# 250    REP 2: 56 bits MB data then BDS1/BDS2 nibbles: 40 -> BDS 4,0; 60 -> BDS 6,0
# 030    05 = 0000010 1: code 2, FX; 22 = 0010001 0: code 17
# SP     length 4 (counting itself), then AB CD 12


def test_cat048_target_report() -> None:
    (a, b), batch = decode_both(48, CAT048_A, CAT048_B)
    assert a == {
        "010": {"SAC": 25, "SIC": 201},
        "140": 43200.5,
        "020": {"TYP": 5, "SIM": 0, "RDP": 0, "SPI": 1, "RAB": 0,
                "TST": 1, "ERR": 0, "XPP": 0, "ME": 1, "MI": 0, "FOEFRI": 0},
        "040": {"RHO": 197.68359375, "THETA": 90.0},
        "070": {"V": 0, "G": 1, "L": 0, "MODE3A": "7700"},
        "090": {"V": 0, "G": 0, "FL": -1.5},
        "220": "A1B2C3",
        "240": "BAW12",
        "161": {"TRN": 2748},
        "042": {"X": -10.5, "Y": 20.25},
        "200": {"GSP": 0.125, "HDG": 180.0},
        "170": {"CNF": 1, "RAD": 2, "DOU": 0, "MAH": 0, "CDM": 0,
                "TRE": 1, "GHO": 0, "SUP": 0, "TCC": 0},
        "110": {"3DH": -1000},
        "230": {"COM": 1, "STAT": 0, "SI": 0, "MSSC": 1, "ARC": 1, "AIC": 1, "B1A": 1, "B1B": 5},
    }
    assert list(a) == ["010", "140", "020", "040", "070", "090", "220", "240", "161", "042",
                       "200", "170", "110", "230"], "items come in UAP order"
    assert b == {
        "010": {"SAC": 1, "SIC": 2},
        "040": {"RHO": 0.00390625, "THETA": 359.9945068359375},
        "090": {"V": 1, "G": 1, "FL": 2047.75},
        "130": {"SRL": 0.703125, "SAM": -75, "APD": -0.02197265625},
        "250": [{"MBDATA": "C0780031BC0000", "BDS1": 4, "BDS2": 0},
                {"MBDATA": "00000000000000", "BDS1": 6, "BDS2": 0}],
        "030": [2, 17],
        "SP": "ABCD12",
    }
    # The Cython columns of the same bytes.
    assert col(batch, "040/RHO") == 197.68359375
    assert col(batch, "040/THETA") == 90.0
    assert col(batch, "070/MODE3A") == 0o7700
    assert col(batch, "070/G") == 1
    assert col(batch, "090/FL") == -1.5
    assert col(batch, "090/FL", 1) == 2047.75
    assert col(batch, "140") == 43200.5
    assert col(batch, "220") == 0xA1B2C3
    assert col(batch, "240") == b"BAW12"  # the three trailing spaces are padding
    assert col(batch, "020/TYP") == 5 and col(batch, "020/SPI") == 1
    assert col(batch, "020/TST") == 1 and col(batch, "020/ME") == 1 and col(batch, "020/MI") == 0
    assert col(batch, "161/TRN") == 2748
    assert (col(batch, "042/X"), col(batch, "042/Y")) == (-10.5, 20.25)
    assert (col(batch, "200/GSP"), col(batch, "200/HDG")) == (0.125, 180.0)
    assert (col(batch, "170/CNF"), col(batch, "170/RAD"), col(batch, "170/TRE")) == (1, 2, 1)
    assert col(batch, "110/3DH") == -1000.0
    assert (col(batch, "230/COM"), col(batch, "230/STAT")) == (1, 0)
    # Absent stays absent: masked, never zero.
    for path in ("140", "020/TYP", "070/MODE3A", "220", "240", "161/TRN", "170/TRE"):
        assert absent(batch, path, 1)
    assert batch["070/MODE3A"].mask.tolist() == [False, True]
    # Part 2 of I020 absent: its flags are absent, not 0.
    single = decode_both(48, "A0 19C9 A0")[1]  # FSPEC 010 020; 020 part 1 only (FX 0)
    assert col(single, "020/TYP") == 5 and absent(single, "020/TST") and absent(single, "020/ME")


# The one record of asterix_decoder's cat048.raw is the worked example of `decode --format
# jsonl` in docs/commands.md, which shows the record without three of its items.  The example
# is read from the page, so the page cannot say other than the decoder does.
COMMANDS_DOC = Path(__file__).resolve().parent.parent / "docs" / "commands.md"


def documented_record() -> dict[str, Any]:
    text = COMMANDS_DOC.read_text(encoding="utf-8")
    block = re.search(r"^### `decode --format jsonl`.*?^```json\n(.*?)^```", text,
                      re.DOTALL | re.MULTILINE)
    assert block is not None, "docs/commands.md has no decode --format jsonl example"
    record: dict[str, Any] = json.loads(block[1])
    return record


# The items the example leaves out, checked by hand: after 240 comes I250 01 | C0780031BC0000
# 40 (one BDS 4,0 register); after 200, I170 41 00 (CNF 0, RAD 2, FX; part 2 all zero); then
# FSPEC octet 3 = 02 gives I230 20 F5 (COM 1, MSSC ARC AIC B1A 1, B1B 5).
DOCUMENTED_OMITS = {
    "250": [{"MBDATA": "C0780031BC0000", "BDS1": 4, "BDS2": 0}],
    "170": {"CNF": 0, "RAD": 2, "DOU": 0, "MAH": 0, "CDM": 0,
            "TRE": 0, "GHO": 0, "SUP": 0, "TCC": 0},
    "230": {"COM": 1, "STAT": 0, "SI": 0, "MSSC": 1, "ARC": 1, "AIC": 1, "B1A": 1, "B1B": 5},
}


def test_documented_worked_example() -> None:
    record = documented_record()
    shown_items = record["items"]
    data = sample_bytes("cat048.raw")
    assert data[0] == 48 and int.from_bytes(data[1:3], "big") == len(data) == 48
    items, length = codec(48).decode_record(data, 3)
    assert (record["cat"], record["len"]) == (48, length) == (48, 45)
    assert (items["010"]["SAC"], items["010"]["SIC"]) == (record["sac"], record["sic"])
    # Every item the example shows, exactly as shown (JSON round trip: it serialises so).
    shown = {k: v for k, v in json.loads(json.dumps(items)).items() if k in shown_items}
    assert json.dumps(shown) == json.dumps(shown_items)
    # And the whole record: the example plus the items it omits, in UAP order.
    expected_order = ["010", "140", "020", "040", "070", "090", "220", "240", "250", "161",
                      "200", "170", "230"]
    assert list(items) == expected_order
    assert items == {**shown_items, **DOCUMENTED_OMITS}
    # The Decoder gives the same record and columns.
    batches, problems = Decoder().decode(data)
    assert problems.total == 0
    assert batches[48].record(0) == items
    assert col(batches[48], "200/GSP") == 0.12066650390625
    assert col(batches[48], "070/MODE3A") == 0o1000


# --------------------------------------------------------------------------- CAT062

CAT062_C = """
BF 7D 3E
10 04
07
07 08 20
00 60 00 00 FE D0 00 00
FF F8 2F 07 A1 20
FE 6F 03 20
2F 40
40 04 13 31 CB 38 20
C0 AB CD EF 04 13 31 CB 38 20
BE EF
31 13 01 D0
05 78
FF F6
85 77
FF 10
4F A0 41 41 4C 31 32 33 20 42 37 33 38 4D 4B 45 4C 50 4D 4D 4D 58 05 78
"""
# FSPEC  BF = 1011 1111: FRN1 010, FRN3 015, FRN4 070, FRN5 105, FRN6 100, FRN7 185, FX
#        7D = 0111 1101: FRN9 060, FRN10 245, FRN11 380, FRN12 040, FRN13 080, FX
#        3E = 0011 1110: FRN17 136, FRN18 130, FRN19 135, FRN20 220, FRN21 390
# 070    0x070820 = 460832 / 128 = 3600.25 s
# 105    LSB 180/2**25, so 45 deg = 2**23.  LAT 0x00600000 = 0.75 * 2**23 -> 33.75 N;
#        LON 0xFED00000 = -0x01300000 = -2.375 * 2**23 -> -106.875 (106.875 W: New Mexico)
# 100    X 0xFFF82F = -2001 * 0.5 = -1000.5 m, Y 0x07A120 = 500000 * 0.5 = 250000 m
# 185    VX 0xFE6F = -401 * 0.25 = -100.25 m/s, VY 0x0320 = 800 * 0.25 = 200 m/s
# 060    2F40 = 0 0 1 0 | 111 101 000 000: V 0, G 0, CH 1, Mode-3/A 7500
# 245    40 = STI 01, spare; A A L 1 2 3 sp sp = 1 1 12 49 50 51 32 32 ->
#        000001 000001 001100 110001 110010 110011 100000 100000 = 04 13 31 CB 38 20
# 380    sub-FSPEC C0: ADR, ID.  ADR ABCDEF, ID as I245
# 040    BEEF = 48879
# 080    31 = 0 0 1 100 0 1: MON 0, SPI 0, MRH 1, SRC 4, CNF 0, FX
#        13 = 0 0 0 1 0 0 1 1: FPC 1, KOS 1, FX;  01 = all 0, FX
#        D0 = 1 1 0 1 0 0 0 0: CST 1, PSR 1, SSR 0, MDS 1, ADS 0 (coasting flags), no FX
# 136    0x0578 = 1400 * 0.25 = FL 350
# 130    0xFFF6 = -10 * 6.25 = -62.5 ft
# 135    85 77 = 1 | 0x0577 = 1399 * 0.25: QNH 1, CTB 349.75
# 220    0xFF10 = -240 * 6.25 = -1500 ft/min
# 390    sub-FSPEC 4F = 0100 1111: CS, TAC, WTC, DEP, FX; A0 = 1010 0000: DST, CFL.
#        CS "AAL123 " (7 ASCII bytes, padding trimmed), TAC "B738", WTC "M",
#        DEP "KELP", DST "MMMX", CFL 0x0578 = FL 350

CAT062_D = """
89 03 01 80
10 04
FF A0 00 00 01 B0 00 00
8C 04 01 00 FF
8D 41 78
"""
# FSPEC  89 = 1000 1001: FRN1 010, FRN5 105, FX;  03: FRN14 290, FX;  01: FX;  80: FRN22 270
# 105    LAT 0xFFA00000 = -0x00600000 -> -33.75 (south); LON 0x01B00000 = 3.375 * 2**23 -> 151.875
# 290    sub-FSPEC 8C = 1000 1100: TRK, ADS, ES.  TRK 4 * 0.25 = 1 s, ADS (16 bits) 0x0100 =
#        256 * 0.25 = 64 s, ES 0xFF = 63.75 s
# 270    8D = 1000110 1: LENGTH 70 m, FX; 41 = 0100000 1: ORIENTATION 32 * 360/128 = 90 deg,
#        FX; 78 = 0111100 0: WIDTH 60 m


def test_cat062_system_track() -> None:
    (c, d), batch = decode_both(62, CAT062_C, CAT062_D)
    assert c == {
        "010": {"SAC": 16, "SIC": 4},
        "015": 7,
        "070": 3600.25,
        "105": {"LAT": 33.75, "LON": -106.875},
        "100": {"X": -1000.5, "Y": 250000.0},
        "185": {"VX": -100.25, "VY": 200.0},
        "060": {"V": 0, "G": 0, "CH": 1, "MODE3A": "7500"},
        "245": {"STI": 1, "CHR": "AAL123"},
        "380": {"ADR": "ABCDEF", "ID": "AAL123"},
        "040": 48879,
        "080": {"MON": 0, "SPI": 0, "MRH": 1, "SRC": 4, "CNF": 0,
                "SIM": 0, "TSE": 0, "TSB": 0, "FPC": 1, "AFF": 0, "STP": 0, "KOS": 1,
                "AMA": 0, "MD4": 0, "ME": 0, "MI": 0, "MD5": 0,
                "CST": 1, "PSR": 1, "SSR": 0, "MDS": 1, "ADS": 0, "SUC": 0, "AAC": 0},
        "136": 350.0,
        "130": -62.5,
        "135": {"QNH": 1, "CTB": 349.75},
        "220": -1500.0,
        "390": {"CS": "AAL123", "TAC": "B738", "WTC": "M", "DEP": "KELP", "DST": "MMMX",
                "CFL": 350.0},
    }
    assert d == {
        "010": {"SAC": 16, "SIC": 4},
        "105": {"LAT": -33.75, "LON": 151.875},
        "290": {"TRK": 1.0, "ADS": 64.0, "ES": 63.75},
        "270": {"LENGTH": 70, "ORIENTATION": 90.0, "WIDTH": 60},
    }
    assert (col(batch, "105/LAT"), col(batch, "105/LON")) == (33.75, -106.875)
    assert (col(batch, "105/LAT", 1), col(batch, "105/LON", 1)) == (-33.75, 151.875)
    assert (col(batch, "100/X"), col(batch, "100/Y")) == (-1000.5, 250000.0)
    assert (col(batch, "185/VX"), col(batch, "185/VY")) == (-100.25, 200.0)
    assert col(batch, "060/MODE3A") == 0o7500 and col(batch, "060/CH") == 1
    assert col(batch, "245/STI") == 1 and col(batch, "245/CHR") == b"AAL123"
    assert col(batch, "380/ADR") == 0xABCDEF and col(batch, "380/ID") == b"AAL123"
    assert col(batch, "040") == 48879
    assert [col(batch, f"080/{n}") for n in ("MRH", "SRC", "CST", "PSR", "SSR", "MDS", "ADS")
            ] == [1, 4, 1, 1, 0, 1, 0]
    assert col(batch, "136") == 350.0 and col(batch, "130") == -62.5
    assert (col(batch, "135/QNH"), col(batch, "135/CTB")) == (1, 349.75)
    assert col(batch, "220") == -1500.0
    assert [col(batch, f"390/{n}") for n in ("CS", "DEP", "DST", "TAC", "WTC")] == [
        b"AAL123", b"KELP", b"MMMX", b"B738", b"M"]
    assert col(batch, "390/CFL") == 350.0
    assert (col(batch, "290/TRK", 1), col(batch, "290/ADS", 1), col(batch, "290/ES", 1)) == (
        1.0, 64.0, 63.75)
    # Subitems of a compound not sent are absent even when the compound is there.
    for path in ("290/PSR", "290/SSR", "290/MDS"):
        assert absent(batch, path, 1)
    assert absent(batch, "290/TRK", 0) and absent(batch, "080/CST", 1)


def test_cat062_i080_without_part_4_has_no_coasting_flags() -> None:
    # FSPEC 81 04 = FRN1 010, FX; FRN13 080.  080: 31 (FX) 00 (no FX): two parts only.
    _, batch = decode_both(62, "81 04 1004 31 00")
    assert col(batch, "080/SRC") == 4 and col(batch, "080/SIM") == 0
    for n in ("CST", "PSR", "SSR", "MDS", "ADS"):
        assert absent(batch, f"080/{n}")


# --------------------------------------------------------------------------- CAT034

CAT034_E = "F8 190E 02 003201 40 0200"
# FSPEC F8 = 1111 1000: FRN1 010, FRN2 000, FRN3 030, FRN4 020, FRN5 041
# 000 2 = sector crossing; 030 0x003201 = 12801 / 128 = 100.0078125 s
# 020 0x40 = 64 * 360/2**8 = 90 deg; 041 0x0200 = 512 / 128 = 4 s per antenna revolution

CAT034_F = """
C7 98
19 0E
01
8C 42 C0 2A 80
90 3A AC
02 09 2C 1F FF
FF FB 18 00 00 B4 00 00
FF 01
"""
# FSPEC  C7 = 1100 0111: FRN1 010, FRN2 000, FRN6 050, FRN7 060, FX
#        98 = 1001 1000: FRN8 070, FRN11 120, FRN12 090
# 000    1 = north marker
# 050    sub-FSPEC 8C = 1000 1100: COM, SSR (slot 5), MDS (slot 6).
#        COM 42 = 0 1 0 0 0 0 1 0: RDPC 1, TSV 1.  SSR C0 = 1 10 0 0 000: ANT 1, CHAB 2.
#        MDS 2A 80 = 0 01 0 1 0 1 0 | 1 0000000: CHAB 1, MSC 1, DLF 1, OVLDLF 1
# 060    sub-FSPEC 90 = 1001 0000: COM, PSR (slot 4).  COM 3A = 0 011 101 0: REDRDP 3,
#        REDXMT 5.  PSR AC = 1 010 11 00: POL 1, REDRAD 2, STC 3
# 070    REP 2: 092C = 00001 00100101100: TYP 1, COUNT 300; 1FFF = 00011 all ones: TYP 3,
#        COUNT 2047
# 120    HGT 0xFFFB = -5 m; LSB 180/2**23 so 45 deg = 2**21: LAT 0x180000 = 0.75 * 2**21 ->
#        33.75; LON 0xB40000 = 0xB40000 - 2**24 = -0x4C0000 = -2.375 * 2**21 -> -106.875
# 090    RNG 0xFF = -1 / 128 = -0.0078125 NM, AZM 0x01 = 360/2**14 = 0.02197265625 deg


def test_cat034_service_messages() -> None:
    (e, f), batch = decode_both(34, CAT034_E, CAT034_F)
    assert e == {"010": {"SAC": 25, "SIC": 14}, "000": 2, "030": 100.0078125, "020": 90.0,
                 "041": 4.0}
    assert f == {
        "010": {"SAC": 25, "SIC": 14},
        "000": 1,
        "050": {
            "COM": {"NOGO": 0, "RDPC": 1, "RDPR": 0, "OVLRDP": 0, "OVLXMT": 0, "MSC": 0,
                    "TSV": 1},
            "SSR": {"ANT": 1, "CHAB": 2, "OVL": 0, "MSC": 0},
            "MDS": {"ANT": 0, "CHAB": 1, "OVLSUR": 0, "MSC": 1, "SCF": 0, "DLF": 1,
                    "OVLSCF": 0, "OVLDLF": 1},
        },
        "060": {"COM": {"REDRDP": 3, "REDXMT": 5}, "PSR": {"POL": 1, "REDRAD": 2, "STC": 3}},
        "070": [{"TYP": 1, "COUNT": 300}, {"TYP": 3, "COUNT": 2047}],
        "120": {"HGT": -5, "LAT": 33.75, "LON": -106.875},
        "090": {"RNG": -0.0078125, "AZM": 0.02197265625},
    }
    assert col(batch, "000") == 2 and col(batch, "000", 1) == 1
    assert col(batch, "020") == 90.0
    assert col(batch, "041") == 4.0
    assert col(batch, "030") == 100.0078125
    assert (col(batch, "010/SAC", 1), col(batch, "010/SIC", 1)) == (25, 14)
    assert absent(batch, "020", 1) and absent(batch, "041", 1) and absent(batch, "030", 1)


# --------------------------------------------------------------------------- CAT065

CAT065_G = "F8 1964 01 04 A8BFFF C8"
# FSPEC F8: FRN1 010, FRN2 000, FRN3 015, FRN4 030, FRN5 020
# 000 1 = SDPS status; 015 SID 4; 030 0xA8BFFF = 11059199 / 128 = 86399.9921875 s
# 020 batch number 0xC8 = 200
CAT065_H = "86 1964 6A 03"
# FSPEC 86 = 1000 0110: FRN1 010, FRN6 040, FRN7 050
# 040 6A = 01 1 0 10 1 0: NOGO 1, OVL 1, TSV 0, PSS 2, STTN 1;  050 REPORT 3


def test_cat065_status() -> None:
    (g, h), batch = decode_both(65, CAT065_G, CAT065_H)
    assert g == {"010": {"SAC": 25, "SIC": 100}, "000": 1, "015": 4, "030": 86399.9921875,
                 "020": 200}
    assert h == {"010": {"SAC": 25, "SIC": 100},
                 "040": {"NOGO": 1, "OVL": 1, "TSV": 0, "PSS": 2, "STTN": 1}, "050": 3}
    assert col(batch, "020") == 200
    assert col(batch, "030") == 86399.9921875
    assert col(batch, "015") == 4 and col(batch, "000") == 1
    assert absent(batch, "020", 1) and absent(batch, "000", 1)


# --------------------------------------------------------------------------- encoder


@pytest.mark.parametrize("cat, records", [
    (48, (CAT048_A, CAT048_B)), (62, (CAT062_C, CAT062_D)),
    (34, (CAT034_E, CAT034_F)), (65, (CAT065_G, CAT065_H)),
])
def test_golden_records_encode_back(cat: int, records: tuple[str, ...]) -> None:
    """The encoder writes the hand-made bytes back from the decoded values."""
    for h in records:
        data = bytes.fromhex(h.replace(" ", "").replace("\n", ""))
        assert codec(cat).encode_record(codec(cat).decode_record(data)[0]) == data


def test_all_zero_identification_reads_as_blank() -> None:
    """I048/240 sent as 48 zero bits (no identification): "" in both decoders, not "????????"."""
    # FSPEC: FRN 1 (I010) and FX, then FRN 9 (I240); SAC 0 SIC 0x65; 48 zero bits
    record = bytes([0b1000_0001, 0b0100_0000, 0x00, 0x65]) + bytes(6)
    block = bytes([48, 0, 3 + len(record)]) + record
    items, length = RecordCodec(CATEGORIES[48]).decode_record(block, 3)
    assert (items["240"], length) == ("", len(record))
    batches, problems = Decoder([48]).decode(block)
    assert problems.total == 0
    assert batches[48]["240"].tolist() == [b""]
