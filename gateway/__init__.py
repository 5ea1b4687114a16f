"""asterix-gateway: ASTERIX radar data in, one fused air picture out.

``gateway.decode`` is the Python entry point to the columnar decoder.
"""

from __future__ import annotations

from gateway.decoder import Batch, Decoded, Decoder, Problems, decode

__all__ = ["Batch", "Decoded", "Decoder", "Problems", "decode"]
