"""A byte-deterministic greyscale PNG encoder.

PNG bytes normally depend on the zlib/Pillow version and its compression choices, which would
make `data.dvc`'s md5 differ between machines. Stored (uncompressed) deflate blocks are fixed by
the format itself, so the same pixels always give the same file, on every machine.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_STORED_BLOCK = 65535


def encode_grey_png(pixels: np.ndarray) -> bytes:
    """Encode an HxW uint8 array as an 8-bit greyscale PNG with stored deflate blocks."""
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an HxW uint8 array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels], axis=1)  # filter byte 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", _stored_zlib(rows.tobytes())) + _chunk(b"IEND", b"")


def _stored_zlib(data: bytes) -> bytes:
    out = bytearray(b"\x78\x01")
    blocks = [data[i : i + _MAX_STORED_BLOCK] for i in range(0, len(data), _MAX_STORED_BLOCK)] or [b""]
    for i, block in enumerate(blocks):
        final = 1 if i == len(blocks) - 1 else 0
        out += struct.pack("<BHH", final, len(block), 0xFFFF ^ len(block)) + block
    out += struct.pack(">I", zlib.adler32(data))
    return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
