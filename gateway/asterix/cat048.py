"""CAT048 Monoradar Target Reports, editions 1.27 to 1.32 (one UAP); 1.21 records decode too.

Layouts follow the 1.32 edition: later editions only add I020 extensions, which an older
radar simply never sets, and make I090 FL signed (as 1.21 already had it).
"""

from __future__ import annotations

from gateway.asterix.spec import (
    RE,
    SAC_SIC,
    SP,
    C,
    Category,
    E,
    Element,
    G,
    Group,
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


def _populated(name: str, bits: int = 1) -> Group:
    """The EMS 4.0 extensions of I020: an 'element populated' bit and its value."""
    return G(E("EP", 1), E("VAL", bits), name=name)


def _confidence(*names: str) -> tuple[Element, ...]:
    return tuple(E(n, 1) for n in names)


CAT048 = Category(
    48,
    "1.32",
    "Monoradar Target Reports",
    (
        SAC_SIC(),
        Item(
            "020",
            "Target Report Descriptor",
            X(
                (E("TYP", 3), E("SIM", 1), E("RDP", 1), E("SPI", 1), E("RAB", 1)),
                (E("TST", 1), E("ERR", 1), E("XPP", 1), E("ME", 1), E("MI", 1), E("FOEFRI", 2)),
                (_populated("ADSB"), _populated("SCN"), _populated("PAI"), Spare(1)),
                (_populated("ACASXV", 4), _populated("POXPR")),
                (_populated("POACT"), _populated("DTFXPR"), _populated("DTFACT"), Spare(1)),
                (_populated("IRMXPR"), _populated("IRMACT"), Spare(3)),
            ),
        ),
        Item("030", "Warning/Error Conditions and Target Classification",
             Rep(E("CODE", 7), fx=True)),
        Item("040", "Measured Position in Polar Co-ordinates",
             G(Q("RHO", 16, 2**-8, "NM"), Q("THETA", 16, DEG16, "deg"))),
        Item("042", "Calculated Position in Cartesian Co-ordinates",
             G(Q("X", 16, 2**-7, "NM", signed=True), Q("Y", 16, 2**-7, "NM", signed=True))),
        Item("050", "Mode-2 Code in Octal Representation",
             G(E("V", 1), E("G", 1), E("L", 1), Spare(1), Octal("MODE2"))),
        Item("055", "Mode-1 Code in Octal Representation",
             G(E("V", 1), E("G", 1), E("L", 1), E("MODE1", 5))),
        Item("060", "Mode-2 Code Confidence Indicator",
             G(Spare(4), *_confidence("QA4", "QA2", "QA1", "QB4", "QB2", "QB1",
                                      "QC4", "QC2", "QC1", "QD4", "QD2", "QD1"))),
        Item("065", "Mode-1 Code Confidence Indicator",
             G(Spare(3), *_confidence("QA4", "QA2", "QA1", "QB2", "QB1"))),
        Item("070", "Mode-3/A Code in Octal Representation",
             G(E("V", 1), E("G", 1), E("L", 1), Spare(1), Octal("MODE3A"))),
        Item("080", "Mode-3/A Code Confidence Indicator",
             G(Spare(4), *_confidence("QA4", "QA2", "QA1", "QB4", "QB2", "QB1",
                                      "QC4", "QC2", "QC1", "QD4", "QD2", "QD1"))),
        Item("090", "Flight Level in Binary Representation",
             G(E("V", 1), E("G", 1), Q("FL", 14, 0.25, "FL", signed=True))),
        Item("100", "Mode-C Code and Code Confidence Indicator",
             G(E("V", 1), E("G", 1), Spare(2), E("MODEC", 12), Spare(4),
               *_confidence("QC1", "QA1", "QC2", "QA2", "QC4", "QA4",
                            "QB1", "QD1", "QB2", "QD2", "QB4", "QD4"))),
        Item("110", "Height Measured by a 3D Radar",
             G(Spare(2), Q("3DH", 14, 25, "ft", signed=True))),
        Item(
            "120",
            "Radial Doppler Speed",
            C(
                ("CAL", G(E("D", 1), Spare(5), Q("CAL", 10, 1, "m/s", signed=True))),
                ("RDS", Rep(G(Q("DOP", 16, 1, "m/s"), Q("AMB", 16, 1, "m/s"),
                              Q("FRQ", 16, 1, "MHz")))),
            ),
        ),
        Item(
            "130",
            "Radar Plot Characteristics",
            C(
                ("SRL", Q("SRL", 8, 360 / 2**13, "deg")),
                ("SRR", E("SRR", 8)),
                ("SAM", Q("SAM", 8, 1, "dBm", signed=True)),
                ("PRL", Q("PRL", 8, 360 / 2**13, "deg")),
                ("PAM", Q("PAM", 8, 1, "dBm", signed=True)),
                ("RPD", Q("RPD", 8, 2**-8, "NM", signed=True)),
                ("APD", Q("APD", 8, 360 / 2**14, "deg", signed=True)),
            ),
        ),
        Item("140", "Time of Day", Q("TOD", 24, 2**-7, "s")),
        Item("161", "Track Number", G(Spare(4), E("TRN", 12))),
        Item(
            "170",
            "Track Status",
            X(
                (E("CNF", 1), E("RAD", 2), E("DOU", 1), E("MAH", 1), E("CDM", 2)),
                (E("TRE", 1), E("GHO", 1), E("SUP", 1), E("TCC", 1), Spare(3)),
            ),
        ),
        Item("200", "Calculated Track Velocity in Polar Co-ordinates",
             G(Q("GSP", 16, 2**-14, "NM/s"), Q("HDG", 16, DEG16, "deg"))),
        Item("210", "Track Quality",
             G(Q("SIGX", 8, 2**-7, "NM"), Q("SIGY", 8, 2**-7, "NM"),
               Q("SIGV", 8, 2**-14, "NM/s"), Q("SIGH", 8, 360 / 2**12, "deg"))),
        Item("220", "Aircraft Address", Hex("ADR", 24)),
        Item("230", "Communications/ACAS Capability and Flight Status",
             G(E("COM", 3), E("STAT", 3), E("SI", 1), Spare(1), E("MSSC", 1), E("ARC", 1),
               E("AIC", 1), E("B1A", 1), E("B1B", 4))),
        Item("240", "Aircraft Identification", Icao("ID")),
        Item("250", "BDS Register Data",
             Rep(G(Hex("MBDATA", 56), E("BDS1", 4), E("BDS2", 4)))),
        Item("260", "ACAS Resolution Advisory Report", Hex("ACASRA", 56)),
        SP,
        RE,
    ),
    (
        "010", "140", "020", "040", "070", "090", "130",
        "220", "240", "250", "161", "042", "200", "170",
        "210", "030", "080", "100", "110", "120", "230",
        "260", "055", "050", "065", "060", "SP", "RE",
    ),
)
check(CAT048)
