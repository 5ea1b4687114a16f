"""CAT062 SDPS Track Messages, edition 1.21 (one UAP); 1.16 and 1.18 records decode too.

Later editions only turn spare bits into flags (I060 V/G, I080 SFC/IDD/IEC/MLAT) and append
an I080 extension, which an older SDPS leaves at zero or never announces; I340 HEIGHT became
signed, which changes no height a tracker can actually report.
"""

from __future__ import annotations

from gateway.asterix.spec import (
    RE,
    SAC_SIC,
    SP,
    Ascii,
    C,
    Category,
    E,
    Element,
    G,
    Hex,
    Icao,
    Item,
    Octal,
    Q,
    Rep,
    Spare,
    X,
    check,
)

DEG16 = 360 / 2**16
DEG23 = 180 / 2**23


def _flags(*names: str) -> tuple[Element, ...]:
    return tuple(E(n, 1) for n in names)


def _age(name: str, bits: int = 8) -> tuple[str, Element]:
    """A compound subitem holding an age in quarter seconds (I290, I295)."""
    return (name, Q(name, bits, 0.25, "s"))


def _wgs84(bits: int, lsb: float) -> tuple[Element, Element]:
    return (Q("LAT", bits, lsb, "deg", signed=True), Q("LON", bits, lsb, "deg", signed=True))


CAT062 = Category(
    62,
    "1.21",
    "SDPS Track Messages",
    (
        SAC_SIC(),
        Item("015", "Service Identification", E("SID", 8)),
        Item("040", "Track Number", E("TRN", 16)),
        Item("060", "Track Mode 3/A Code",
             G(E("V", 1), E("G", 1), E("CH", 1), Spare(1), Octal("MODE3A"))),
        Item("070", "Time Of Track Information", Q("TOT", 24, 2**-7, "s")),
        Item(
            "080",
            "Track Status",
            X(
                (E("MON", 1), E("SPI", 1), E("MRH", 1), E("SRC", 3), E("CNF", 1)),
                _flags("SIM", "TSE", "TSB", "FPC", "AFF", "STP", "KOS"),
                (E("AMA", 1), E("MD4", 2), E("ME", 1), E("MI", 1), E("MD5", 2)),
                _flags("CST", "PSR", "SSR", "MDS", "ADS", "SUC", "AAC"),
                (E("SDS", 2), E("EMS", 3), E("PFT", 1), E("FPLT", 1)),
                _flags("DUPT", "DUPF", "DUPM", "SFC", "IDD", "IEC", "MLAT"),
                (E("M5I", 1), Spare(6)),
            ),
        ),
        Item("100", "Calculated Track Position (Cartesian)",
             G(Q("X", 24, 0.5, "m", signed=True), Q("Y", 24, 0.5, "m", signed=True))),
        Item("105", "Calculated Position In WGS-84 Co-ordinates", G(*_wgs84(32, 180 / 2**25))),
        Item(
            "110",
            "Mode 5 Data Reports and Extended Mode 1 Code",
            C(
                ("SUM", G(*_flags("M5", "ID", "DA", "M1", "M2", "M3", "MC", "X"))),
                ("PMN", G(Spare(2), E("PIN", 14), Spare(3), E("NAT", 5), Spare(2),
                          E("MIS", 6))),
                ("POS", G(*_wgs84(24, DEG23))),
                ("GA", G(Spare(1), E("RES", 1), Q("GA", 14, 25, "ft", signed=True))),
                ("EM1", G(Spare(4), Octal("EM1"))),
                ("TOS", Q("TOS", 8, 2**-7, "s", signed=True)),
                ("XP", G(Spare(3), *_flags("X5", "XC", "X3", "X2", "X1"))),
            ),
        ),
        Item("120", "Track Mode 2 Code", G(Spare(4), Octal("MODE2"))),
        Item("130", "Calculated Track Geometric Altitude",
             Q("ALT", 16, 25 / 4, "ft", signed=True)),
        Item("135", "Calculated Track Barometric Altitude",
             G(E("QNH", 1), Q("CTB", 15, 0.25, "FL", signed=True))),
        Item("136", "Measured Flight Level", Q("MFL", 16, 0.25, "FL", signed=True)),
        Item("185", "Calculated Track Velocity (Cartesian)",
             G(Q("VX", 16, 0.25, "m/s", signed=True), Q("VY", 16, 0.25, "m/s", signed=True))),
        Item("200", "Mode of Movement",
             G(E("TRANS", 2), E("LONG", 2), E("VERT", 2), E("ADF", 1), Spare(1))),
        Item("210", "Calculated Acceleration (Cartesian)",
             G(Q("AX", 8, 0.25, "m/s2", signed=True), Q("AY", 8, 0.25, "m/s2", signed=True))),
        Item("220", "Calculated Rate of Climb/Descent",
             Q("ROCD", 16, 25 / 4, "ft/min", signed=True)),
        Item("245", "Target Identification", G(E("STI", 2), Spare(6), Icao("CHR"))),
        Item(
            "270",
            "Target Size and Orientation",
            X(
                (Q("LENGTH", 7, 1, "m"),),
                (Q("ORIENTATION", 7, 360 / 2**7, "deg"),),
                (Q("WIDTH", 7, 1, "m"),),
            ),
        ),
        Item(
            "290",
            "System Track Update Ages",
            C(
                _age("TRK"), _age("PSR"), _age("SSR"), _age("MDS"), _age("ADS", 16),
                _age("ES"), _age("VDL"), _age("UAT"), _age("LOP"), _age("MLT"),
            ),
        ),
        Item(
            "295",
            "Track Data Ages",
            C(
                _age("MFL"), _age("MD1"), _age("MD2"), _age("MDA"), _age("MD4"),
                _age("MD5"), _age("MHG"), _age("IAS"), _age("TAS"), _age("SAL"),
                _age("FSS"), _age("TID"), _age("COM"), _age("SAB"), _age("ACS"),
                _age("BVR"), _age("GVR"), _age("RAN"), _age("TAR"), _age("TAN"),
                _age("GSP"), _age("VUN"), _age("MET"), _age("EMC"), _age("POS"),
                _age("GAL"), _age("PUN"), _age("MB"), _age("IAR"), _age("MAC"),
                _age("BPS"),
            ),
        ),
        Item("300", "Vehicle Fleet Identification", E("VFI", 8)),
        Item(
            "340",
            "Measured Information",
            C(
                ("SID", G(E("SAC", 8), E("SIC", 8))),
                ("POS", G(Q("RHO", 16, 2**-8, "NM"), Q("THETA", 16, DEG16, "deg"))),
                ("HEIGHT", Q("HEIGHT", 16, 25, "ft", signed=True)),
                ("MDC", G(E("V", 1), E("G", 1), Q("LMC", 14, 0.25, "FL", signed=True))),
                ("MDA", G(E("V", 1), E("G", 1), E("L", 1), Spare(1), Octal("MODE3A"))),
                ("TYP", G(E("TYP", 3), E("SIM", 1), E("RAB", 1), E("TST", 1), Spare(2))),
            ),
        ),
        Item(
            "380",
            "Aircraft Derived Data",
            C(
                ("ADR", Hex("ADR", 24)),
                ("ID", Icao("ID")),
                ("MHG", Q("MHG", 16, DEG16, "deg")),
                ("IAS", G(E("IM", 1),
                          Element("IAS", 15, scale=2**-14, unit="NM/s",
                                  case=("IM", ((0, 2**-14, "NM/s"), (1, 1e-3, "Mach")))))),
                ("TAS", Q("TAS", 16, 1, "kt")),
                ("SAL", G(E("SAS", 1), E("SRC", 2), Q("ALT", 13, 25, "ft", signed=True))),
                ("FSS", G(E("MV", 1), E("AH", 1), E("AM", 1),
                          Q("ALT", 13, 25, "ft", signed=True))),
                ("TIS", X((E("NAV", 1), E("NVB", 1), Spare(5)))),
                ("TID", Rep(G(E("TCA", 1), E("NC", 1), E("TCPN", 6),
                              Q("ALT", 16, 10, "ft", signed=True), *_wgs84(24, DEG23),
                              E("PT", 4), E("TD", 2), E("TRA", 1), E("TOA", 1),
                              Q("TOV", 24, 1, "s"), Q("TTR", 16, 1 / 100, "NM")))),
                ("COM", G(E("COM", 3), E("STAT", 3), Spare(2), E("SSC", 1), E("ARC", 1),
                          E("AIC", 1), E("B1A", 1), E("B1B", 4))),
                ("SAB", G(E("AC", 2), E("MN", 2), E("DC", 2), E("GBS", 1), Spare(6),
                          E("STAT", 3))),
                ("ACS", Hex("ACS", 56)),
                ("BVR", Q("BVR", 16, 25 / 4, "ft/min", signed=True)),
                ("GVR", Q("GVR", 16, 25 / 4, "ft/min", signed=True)),
                ("RAN", Q("RAN", 16, 1 / 100, "deg", signed=True)),
                ("TAR", G(E("TI", 2), Spare(6), Q("ROT", 7, 0.25, "deg/s", signed=True),
                          Spare(1))),
                ("TAN", Q("TAN", 16, DEG16, "deg")),
                ("GS", Q("GS", 16, 2**-14, "NM/s", signed=True)),
                ("VUN", E("VUN", 8)),
                ("MET", G(*_flags("WS", "WD", "TMP", "TRB"), Spare(4), Q("WSD", 16, 1, "kt"),
                          Q("WDD", 16, 1, "deg"), Q("TMPD", 16, 0.25, "degC", signed=True),
                          E("TRBD", 8))),
                ("EMC", E("EMC", 8)),
                ("POS", G(*_wgs84(24, DEG23))),
                ("GAL", Q("GAL", 16, 25 / 4, "ft", signed=True)),
                ("PUN", G(Spare(4), E("PUN", 4))),
                ("BDSDATA", Rep(Hex("BDSDATA", 64))),
                ("IAR", Q("IAR", 16, 1, "kt")),
                ("MAC", Q("MAC", 16, 1 / 125, "Mach")),
                ("BPS", G(Spare(4), Q("BPS", 12, 1 / 10, "mb"))),
            ),
        ),
        Item(
            "390",
            "Flight Plan Related Data",
            C(
                ("TAG", G(E("SAC", 8), E("SIC", 8))),
                ("CS", Ascii("CS", 56)),
                ("IFI", G(E("TYP", 2), Spare(3), E("NBR", 27))),
                ("FCT", G(E("GATOAT", 2), E("FR1FR2", 2), E("RVSM", 2), E("HPR", 1),
                          Spare(1))),
                ("TAC", Ascii("TAC", 32)),
                ("WTC", Ascii("WTC", 8)),
                ("DEP", Ascii("DEP", 32)),
                ("DST", Ascii("DST", 32)),
                ("RDS", G(Ascii("NU1", 8), Ascii("NU2", 8), Ascii("LTR", 8))),
                ("CFL", Q("CFL", 16, 0.25, "FL")),
                ("CTL", G(E("CENTRE", 8), E("POSITION", 8))),
                ("TOD", Rep(G(E("TYP", 5), E("DAY", 2), Spare(4), E("HOR", 5), Spare(2),
                              E("MIN", 6), E("AVS", 1), Spare(1), E("SEC", 6)))),
                ("AST", Ascii("AST", 48)),
                ("STS", G(E("EMP", 2), E("AVL", 2), Spare(4))),
                ("STD", Ascii("STD", 56)),
                ("STA", Ascii("STA", 56)),
                ("PEM", G(Spare(3), E("VA", 1), Octal("MODE3A"))),
                ("PEC", Ascii("PEC", 56)),
            ),
        ),
        Item(
            "500",
            "Estimated Accuracies",
            C(
                ("APC", G(Q("X", 16, 0.5, "m"), Q("Y", 16, 0.5, "m"))),
                ("COV", Q("COV", 16, 0.5, "m", signed=True)),
                ("APW", G(Q("LAT", 16, 180 / 2**25, "deg"), Q("LON", 16, 180 / 2**25, "deg"))),
                ("AGA", Q("AGA", 8, 25 / 4, "ft")),
                ("ABA", Q("ABA", 8, 0.25, "FL")),
                ("ATV", G(Q("X", 8, 0.25, "m/s"), Q("Y", 8, 0.25, "m/s"))),
                ("AA", G(Q("X", 8, 0.25, "m/s2"), Q("Y", 8, 0.25, "m/s2"))),
                ("ARC", Q("ARC", 8, 25 / 4, "ft/min")),
            ),
        ),
        Item("510", "Composed Track Number", Rep(G(E("IDENT", 8), E("TRACK", 15)), fx=True)),
        SP,
        RE,
    ),
    (
        "010", None, "015", "070", "105", "100", "185",
        "210", "060", "245", "380", "040", "080", "290",
        "200", "295", "136", "130", "135", "220", "390",
        "270", "300", "110", "120", "510", "500", "340",
        None, None, None, None, None, "RE", "SP",
    ),
)
check(CAT062)
