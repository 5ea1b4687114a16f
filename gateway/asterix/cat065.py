"""CAT065 SDPS Service Status Reports, edition 1.6 (one UAP)."""

from __future__ import annotations

from gateway.asterix.spec import (
    RE,
    SAC_SIC,
    SP,
    Category,
    E,
    G,
    Item,
    Q,
    Spare,
    check,
)

CAT065 = Category(
    65,
    "1.6",
    "SDPS Service Status Reports",
    (
        Item("000", "Message Type", E("TYP", 8)),
        SAC_SIC(),
        Item("015", "Service Identification", E("SID", 8)),
        Item("020", "Batch Number", E("BTN", 8)),
        Item("030", "Time of Message", Q("TOM", 24, 2**-7, "s")),
        Item("040", "SDPS Configuration and Status",
             G(E("NOGO", 2), E("OVL", 1), E("TSV", 1), E("PSS", 2), E("STTN", 1), Spare(1))),
        Item("050", "Service Status Report", E("REPORT", 8)),
        SP,
        RE,
    ),
    (
        "010", "000", "015", "030", "020", "040", "050",
        None, None, None, None, None, "RE", "SP",
    ),
)
check(CAT065)
