"""QoS 0 PUBLISH packets encoded here, not by paho: the bytes of a chunk's messages, joined.

Sans-IO.  paho's ``publish`` costs ~16 us a QoS 0 message (topic checks, a mid, an
``MQTTMessageInfo``, ``_send_publish`` building the packet in a bytearray, ``Properties.pack``
of the message-expiry property every time, a queue entry and a byte to its sockpair); an
SDPS cycle's ~257 messages were ~4 ms of it (issue 16).  A QoS 0 PUBLISH is simple enough to
write out: this encodes it as paho does, byte for byte (tests/test_mqtt_packets.py holds it
to paho's own packets), at ~1-2 us a message, and the sink hands the joined bytes to paho
with one real ``publish`` (``gateway.publish.mqtt.join_queued``).

A PUBLISH (MQTT 3.1.1 section 3.3, MQTT 5 section 3.3), QoS 0, no DUP:

- fixed header: ``0x30 | retain``, then the remaining length as a varint (7 bits a byte,
  least significant first, the top bit set on every byte but the last; at most 4 bytes);
- the topic: 2-byte big-endian length, then its UTF-8 bytes (QoS 0: no packet identifier);
- MQTT 5 only, the properties: their length as a varint, then each; here either none
  (``0x00``) or Message Expiry Interval (identifier ``0x02``, a 4-byte big-endian integer):
  ``05 02 xx xx xx xx``;
- the payload, to the end of the packet.

What paho would refuse is not encoded here (``None``: the caller leaves the chunk to
``paho.publish``, which then raises as it always did): a topic with a wildcard, empty, not
UTF-8 encodable or over 65,535 bytes; a payload that is not bytes; a packet over MQTT's
268,435,455-byte remaining length; a QoS other than 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.publish.topics import Outbound

PUBLISH = 0x30
MAX_REMAINING = 268_435_455  # MQTT's largest remaining length (4 varint bytes)
MAX_TOPIC = 65_535
NO_PROPERTIES = b"\x00"
EXPIRY_PROPERTY = 0x02
MAX_EXPIRY = 0xFFFF_FFFF


def expiry_block(expiry_s: int) -> bytes:
    """The MQTT 5 property block of a message with a Message Expiry Interval: its length
    (5), the property's identifier and the interval in seconds as 4 bytes, big-endian."""
    return bytes((5, EXPIRY_PROPERTY)) + expiry_s.to_bytes(4, "big")


def remaining_length(length: int) -> bytes:
    """MQTT's variable byte integer (1 to 4 bytes) for 0 <= ``length`` <= MAX_REMAINING."""
    out = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_qos0(messages: Iterable[Outbound], v5: bool,
                blocks: dict[int | None, bytes] | None = None) -> bytes | None:
    """The QoS 0 PUBLISH packets of ``messages``, in order, joined; ``None`` if any of them
    is one paho would refuse (see the module's docstring).  MQTT 5 (``v5``) packets carry
    a property block (the message's expiry, if it has one); 3.1.1 packets have none.
    ``blocks`` caches each expiry's property block (a sink has a few expiries, and keeps
    one dict for the connection's life)."""
    if blocks is None:
        blocks = {}
    parts: list[bytes] = []
    append = parts.append
    for m in messages:
        if m.qos:
            return None
        try:
            topic = m.topic.encode()
        except UnicodeEncodeError:
            return None
        payload = m.payload
        size = len(topic)
        if (not size or size > MAX_TOPIC or b"+" in topic or b"#" in topic
                or not isinstance(payload, bytes | bytearray)):
            return None
        length = 2 + size + len(payload)
        block = b""
        if v5:
            cached = blocks.get(m.expiry_s)
            if cached is None:
                expiry = m.expiry_s
                if expiry is None:
                    cached = NO_PROPERTIES
                elif 0 <= expiry <= MAX_EXPIRY:
                    cached = expiry_block(expiry)
                else:
                    return None
                blocks[expiry] = cached
            block = cached
            length += len(block)
        command = PUBLISH | 1 if m.retain else PUBLISH
        if length < 0x80:
            append(bytes((command, length, size >> 8, size & 0xFF)))
        elif length < 0x4000:
            append(bytes((command, length & 0x7F | 0x80, length >> 7, size >> 8, size & 0xFF)))
        elif length <= MAX_REMAINING:
            append(bytes((command,)) + remaining_length(length) + bytes((size >> 8, size & 0xFF)))
        else:
            return None
        append(topic)
        if v5:
            append(block)
        append(payload)
    return b"".join(parts)
