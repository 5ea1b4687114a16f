"""CAT034 Transmission of Monoradar Service Messages, edition 1.29 (one UAP)."""

from __future__ import annotations

from gateway.asterix.spec import (
    RE,
    SAC_SIC,
    SP,
    C,
    Category,
    E,
    G,
    Item,
    Q,
    Rep,
    Spare,
    check,
)

DEG16 = 360 / 2**16


CAT034 = Category(
    34,
    "1.29",
    "Transmission of Monoradar Service Messages",
    (
        Item("000", "Message Type", E("TYP", 8)),
        SAC_SIC(),
        Item("020", "Sector Number", Q("SECTOR", 8, 360 / 2**8, "deg")),
        Item("030", "Time of Day", Q("TOD", 24, 2**-7, "s")),
        Item("041", "Antenna Rotation Speed", Q("ARS", 16, 2**-7, "s")),
        Item(
            "050",
            "System Configuration and Status",
            C(
                ("COM", G(E("NOGO", 1), E("RDPC", 1), E("RDPR", 1), E("OVLRDP", 1),
                          E("OVLXMT", 1), E("MSC", 1), E("TSV", 1), Spare(1))),
                None,
                None,
                ("PSR", G(E("ANT", 1), E("CHAB", 2), E("OVL", 1), E("MSC", 1), Spare(3))),
                ("SSR", G(E("ANT", 1), E("CHAB", 2), E("OVL", 1), E("MSC", 1), Spare(3))),
                ("MDS", G(E("ANT", 1), E("CHAB", 2), E("OVLSUR", 1), E("MSC", 1), E("SCF", 1),
                          E("DLF", 1), E("OVLSCF", 1), E("OVLDLF", 1), Spare(7))),
            ),
        ),
        Item(
            "060",
            "System Processing Mode",
            C(
                ("COM", G(Spare(1), E("REDRDP", 3), E("REDXMT", 3), Spare(1))),
                None,
                None,
                ("PSR", G(E("POL", 1), E("REDRAD", 3), E("STC", 2), Spare(2))),
                ("SSR", G(E("REDRAD", 3), Spare(5))),
                ("MDS", G(E("REDRAD", 3), E("CLU", 1), Spare(4))),
            ),
        ),
        Item("070", "Message Count Values", Rep(G(E("TYP", 5), E("COUNT", 11)))),
        Item("090", "Collimation Error",
             G(Q("RNG", 8, 2**-7, "NM", signed=True),
               Q("AZM", 8, 360 / 2**14, "deg", signed=True))),
        Item("100", "Generic Polar Window",
             G(Q("RHOST", 16, 2**-8, "NM"), Q("RHOEND", 16, 2**-8, "NM"),
               Q("THETAST", 16, DEG16, "deg"), Q("THETAEND", 16, DEG16, "deg"))),
        Item("110", "Data Filter", E("TYP", 8)),
        Item("120", "3D-Position Of Data Source",
             G(Q("HGT", 16, 1, "m", signed=True),
               Q("LAT", 24, 180 / 2**23, "deg", signed=True),
               Q("LON", 24, 180 / 2**23, "deg", signed=True))),
        SP,
        RE,
    ),
    (
        "010", "000", "030", "020", "041", "050", "060",
        "070", "100", "110", "120", "090", "RE", "SP",
    ),
)
check(CAT034)
