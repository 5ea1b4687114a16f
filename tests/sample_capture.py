"""The shipped decoder sample, captures/decoder-sample.pcap, and how it is made.

One scan sector of a Mode S radar (CAT034 north marker and sector crossing, CAT048 plots)
and one SDPS update (CAT062 tracks, CAT065 end of batch), as Ethernet/IPv4/UDP multicast
frames.  A test rebuilds it from this recipe and compares bytes, so the file stays honest.
"""

from __future__ import annotations

import random
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import RecordCodec, datablock

PATH = Path(__file__).resolve().parent.parent / "captures" / "decoder-sample.pcap"
T0 = 1779868800.0  # 2026-05-27 08:00:00 UTC
RADAR = ("10.1.1.11", "232.1.1.11", 21111)  # source, group, port
SDPS = ("10.1.2.20", "232.1.2.20", 21120)


def _frame(src: str, group: str, port: int, payload: bytes, t: float) -> Ether:
    last = [int(x) for x in group.split(".")]
    mac = f"01:00:5e:{last[1] & 0x7F:02x}:{last[2]:02x}:{last[3]:02x}"
    pkt = (Ether(src="02:00:00:00:00:01", dst=mac) / IP(src=src, dst=group, ttl=16, id=1)
           / UDP(sport=port, dport=port) / Raw(payload))
    pkt.time = t
    return pkt


def frames() -> list[Ether]:
    rng = random.Random(2026)
    c34, c48 = RecordCodec(CATEGORIES[34]), RecordCodec(CATEGORIES[48])
    c62, c65 = RecordCodec(CATEGORIES[62]), RecordCodec(CATEGORIES[65])
    tod = 8 * 3600.0
    out = [_frame(*RADAR, datablock(34, [c34.encode_record({
        "010": {"SAC": 0, "SIC": 101}, "000": 1, "030": tod, "041": 6.0})]), T0)]
    plots = []
    for i in range(24):
        theta = i * 1.875
        plots.append(c48.encode_record({
            "010": {"SAC": 0, "SIC": 101}, "140": tod + theta / 60,
            "020": {"TYP": 5} if i % 6 else {"TYP": 1},
            "040": {"RHO": rng.uniform(20, 240), "THETA": theta},
            **({} if i % 6 == 0 else {
                "070": {"MODE3A": f"{rng.randrange(0o10000):04o}"},
                "090": {"FL": rng.randrange(100, 400)},
                "220": f"{rng.randrange(1 << 24):06X}",
                "240": rng.choice(("AMX412", "AAL1234", "VIV1030", "SWA2211")),
                "161": {"TRN": 100 + i},
                "200": {"GSP": rng.uniform(0.05, 0.14), "HDG": rng.uniform(0, 359)},
                "170": {"CNF": 0, "RAD": 2},
            }),
        }))
    out.append(_frame(*RADAR, datablock(48, plots), T0 + 0.75))
    out.append(_frame(*RADAR, datablock(34, [c34.encode_record({
        "010": {"SAC": 0, "SIC": 101}, "000": 2, "030": tod + 0.75, "020": 45.0})]),
        T0 + 0.7501))
    tracks = [c62.encode_record({
        "010": {"SAC": 0, "SIC": 200}, "015": 1, "070": tod + 1.0,
        "105": {"LAT": 25.5 + i * 0.7, "LON": -100.1 - i * 1.3},
        "185": {"VX": 150.0, "VY": -90.25}, "040": 4000 + i,
        "060": {"MODE3A": f"{(0o1200 + i):04o}"},
        "080": {"MON": 0, "SRC": 3, "CNF": 0},
        "136": 350.0, "380": {"ADR": f"{0x0D0000 + i:06X}", "ID": f"AMX{400 + i}"},
        "390": {"CS": f"AMX{400 + i}", "DEP": "MMMX", "DST": "KDFW", "CFL": 350.0,
                "TAC": "B738", "WTC": "M"},
    }) for i in range(5)]
    out.append(_frame(*SDPS, datablock(62, tracks), T0 + 1.02))
    out.append(_frame(*SDPS, datablock(65, [c65.encode_record({
        "010": {"SAC": 0, "SIC": 200}, "000": 2, "015": 1, "030": tod + 1.0, "020": 7})]),
        T0 + 1.03))
    return out


def write(path: Path = PATH) -> None:
    wrpcap(str(path), frames())


if __name__ == "__main__":
    write()
