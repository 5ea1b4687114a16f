"""ASTERIX categories handled by the gateway, and the columns the fast path extracts."""

from __future__ import annotations

from gateway.asterix.cat034 import CAT034
from gateway.asterix.cat048 import CAT048
from gateway.asterix.cat062 import CAT062
from gateway.asterix.cat065 import CAT065
from gateway.asterix.spec import Category

CATEGORIES: dict[int, Category] = {c.number: c for c in (CAT034, CAT048, CAT062, CAT065)}

# The fields the gateway itself uses, as columns; anything else is decoded on demand from the
# item offsets through the reference codec.  Paths are item/subfield as the standard names them.
_M3A = ("V", "G", "MODE3A")
COLUMNS: dict[int, tuple[str, ...]] = {
    48: (
        "010/SAC", "010/SIC", "140",
        "020/TYP", "020/SIM", "020/TST", "020/SPI", "020/RAB", "020/ME", "020/MI",
        "040/RHO", "040/THETA",
        *(f"070/{n}" for n in (*_M3A, "L")),
        "090/V", "090/G", "090/FL", "110/3DH", "220", "240", "161/TRN",
        "200/GSP", "200/HDG", "042/X", "042/Y",
        "170/CNF", "170/RAD", "170/TRE", "230/COM", "230/STAT",
    ),
    62: (
        "010/SAC", "010/SIC", "015", "070", "105/LAT", "105/LON", "100/X", "100/Y",
        "185/VX", "185/VY", "210/AX", "210/AY",
        *(f"060/{n}" for n in (*_M3A, "CH")),
        "245/STI", "245/CHR", "040",
        *(f"080/{n}" for n in ("MON", "SPI", "MRH", "SRC", "CNF", "SIM", "TSE", "TSB",
                               "CST", "PSR", "SSR", "MDS", "ADS")),
        "136", "130", "135/QNH", "135/CTB", "220", "380/ADR", "380/ID",
        *(f"390/{n}" for n in ("CS", "DEP", "DST", "CFL", "TAC", "WTC")),
        *(f"290/{n}" for n in ("TRK", "PSR", "SSR", "MDS", "ADS", "ES")),
    ),
    34: ("010/SAC", "010/SIC", "000", "020", "030", "041"),
    65: ("010/SAC", "010/SIC", "000", "015", "020", "030"),
}

__all__ = ["CATEGORIES", "COLUMNS"]
