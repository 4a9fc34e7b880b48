"""Decoding, resizing and encoding images: bytes in, uint8 RGB arrays out, and back."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadImage

FORMATS = ("PNG", "JPEG", "WEBP")
DEFAULT_MAX_PIXELS = 40_000_000

# decode_image checks the pixel count itself, against a limit the caller sets, and says what the
# header claimed; Pillow's own global check would refuse with a less useful message.
Image.MAX_IMAGE_PIXELS = None


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a PNG, JPEG or WebP file into an (H, W, 3) uint8 RGB array, upright as EXIF says.

    The pixel count is checked from the header, before any pixel is decoded, so a small file that
    claims to be huge (a decompression bomb) costs nothing.
    """
    if not data:
        raise BadImage("the image is empty")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("the file is not a PNG, JPEG or WebP image") from None
    if image.format not in FORMATS:
        raise BadImage(f"{image.format} images are not supported; send PNG, JPEG or WebP")
    width, height = image.size
    if width * height > max_pixels:
        raise BadImage(
            f"the image is {width}x{height} pixels, over the limit of {max_pixels:,} pixels"
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise BadImage(f"the {image.format} file is truncated or corrupt ({error})") from None
    return _to_rgb(ImageOps.exif_transpose(image))


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent parts become white, as they look on a page, rather than whatever colour
        # the file happens to store under alpha 0.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def output_size(shape: tuple[int, ...], size: int, min_side: int = 1, name: str = "image"
                ) -> tuple[int, int]:
    """(height, width) whose longer side is `size`, with the aspect ratio of `shape`.

    BadImage if the shorter side would come out under `min_side` px: the network halves the image
    several times, and a side that vanishes fails deep inside it.
    """
    height, width = shape[:2]
    scale = size / max(height, width)
    out = max(1, round(height * scale)), max(1, round(width * scale))
    if min(out) < min_side:
        ratio = max(height, width) / min(height, width)
        raise BadImage(
            f"the {name} image is {width}x{height} px ({ratio:.0f}:1); at {size} px its shorter "
            f"side would be {min(out)} px, and the network needs at least {min_side} px, so "
            f"send an image no more elongated than {size // min_side}:1 at this size"
        )
    return out


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise BadImage(f"cannot read {path}: {error.strerror}") from None
    try:
        return decode_image(data, max_pixels)
    except BadImage as error:
        raise BadImage(f"{path}: {error}") from None
