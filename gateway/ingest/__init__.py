"""The gateway's input layer: captures, raw ASTERIX streams and live multicast → Datagrams."""

from gateway.ingest.capture import CaptureError, detect_format, read_datagrams
from gateway.ingest.datagram import KINDS, Datagram, IngestStats
from gateway.ingest.frames import FrameDecoder, Reassembler
from gateway.ingest.multicast import iter_multicast, kernel_drops, open_multicast, rcvbuf_granted
from gateway.ingest.url import UdpUrl, parse_udp_url

__all__ = [
    "KINDS",
    "CaptureError",
    "Datagram",
    "FrameDecoder",
    "IngestStats",
    "Reassembler",
    "UdpUrl",
    "detect_format",
    "iter_multicast",
    "kernel_drops",
    "open_multicast",
    "parse_udp_url",
    "rcvbuf_granted",
    "read_datagrams",
]
