"""Images a fuzzer or a careless client sends: truncated, corrupt, and decompression bombs.

Every one must be refused as `bad_image` (BadImage in the engine), cheaply, in one log line.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _photo(width: int = 64, height: int = 48) -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_chunk_before_idat(chunk: bytes) -> bytes:
    png = _encoded(_photo(), "PNG")
    at = 8 + 25  # signature, then IHDR (length, type, 13 bytes, CRC)
    return png[:at] + chunk + png[at:]


def _flipped(data: bytes, start: int, count: int) -> bytes:
    """`data` with `count` bytes from offset `start` inverted."""
    middle = bytes(255 - byte for byte in data[start:start + count])
    return data[:start] + middle + data[start + count:]


def hostile_images() -> dict[str, bytes]:
    jpeg = _encoded(_photo(), "JPEG", quality=90)
    png = _encoded(_photo(), "PNG")
    webp = _encoded(_photo(), "WEBP", quality=80)
    lossless = _encoded(_photo(), "WEBP", lossless=True)
    text_bomb = PngImagePlugin.PngInfo()
    text_bomb.add_text("Comment", "A" * 20_000_000, zip=True)  # 20 KB that inflate to 20 MB
    many_texts = PngImagePlugin.PngInfo()
    for index in range(8):
        many_texts.add_text(f"Comment{index}", "B" * 900_000, zip=True)
    profile_bomb = b"sRGB\x00\x00" + zlib.compress(b"\x00" * 50_000_000, 9)
    return {
        "jpeg-truncated": jpeg[: len(jpeg) // 2],
        "jpeg-header-only": jpeg[:200],
        "jpeg-corrupt-scan": _flipped(jpeg, len(jpeg) // 2, 400),
        "jpeg-corrupt-tables": _flipped(jpeg, 20, 64),
        "png-truncated": png[: len(png) // 2],
        "png-no-idat": png[:33] + _chunk(b"IEND", b""),
        "png-corrupt-idat": _flipped(png, len(png) // 2, 64),
        "png-bad-ihdr-crc": png[:29] + b"\x00\x00\x00\x00" + png[33:],
        "png-zero-width": png[:16] + b"\x00\x00\x00\x00" + png[20:],
        "png-text-bomb": _encoded(_photo(), "PNG", pnginfo=text_bomb),
        "png-many-texts": _encoded(_photo(), "PNG", pnginfo=many_texts),
        "png-profile-bomb": _png_with_chunk_before_idat(_chunk(b"iCCP", profile_bomb)),
        "webp-truncated": webp[: len(webp) // 2],
        "webp-corrupt-frame-header": _flipped(webp, 23, 4),  # the VP8 start code
        "webp-lossless-truncated": lossless[: len(lossless) * 2 // 3],
        "webp-riff-only": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    }
