"""PNG images for the live page, written with the standard library (zlib + struct).

A PNG (RFC 2083) is an 8-byte signature and chunks, each length + type + data + CRC-32:
IHDR (width, height, bit depth 8, colour type 0 = grey or 2 = RGB), IDAT (the zlib-compressed
rows, each prefixed by filter type 0 = none) and IEND.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray) -> bytes:
    """uint8 (H, W) grey or (H, W, 3) RGB -> the bytes of a PNG file."""
    a = np.ascontiguousarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) \
            or 0 in a.shape:
        raise ValueError(f"encode_png: expected a non-empty uint8 (H, W) or (H, W, 3) array, "
                         f"got {a.dtype} of shape {a.shape}")
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0
    rows = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, -1)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + \
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b"")


def to_uint8(x: np.ndarray, lo=None, hi=None) -> np.ndarray:
    """Scale x linearly so that [lo, hi] (default: its own min and max) maps to 0..255."""
    x = np.asarray(x, np.float64)
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.full(x.shape, 128, np.uint8)
    return np.clip(np.round((x - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def tile(maps: np.ndarray, columns: int, scale: int = 1, gap: int = 1) -> np.ndarray:
    """Maps (K, h, w) or (K, h, w, 3) uint8 -> one mosaic image, `columns` maps per row,
    each enlarged `scale` times (nearest neighbour), `gap` pixels of white between them."""
    k, h, w = maps.shape[:3]
    if scale > 1:
        maps = maps.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    columns = max(1, min(columns, k))
    rows = -(-k // columns)
    shape = (rows * (h + gap) - gap, columns * (w + gap) - gap) + maps.shape[3:]
    out = np.full(shape, 255, np.uint8)
    for i in range(k):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[i]
    return out
