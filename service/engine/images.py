"""Decoding, resizing and encoding images: bytes in, uint8 RGB arrays out, and back.

Decoding reads the header first (format, size, EXIF orientation) and refuses what is too large
before any pixel is decoded; it then decodes straight to the size the job needs, so a large photo
costs little memory and time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin

from .errors import BadImage

FORMATS = ("PNG", "JPEG", "MPO", "WEBP")  # MPO: a camera's JPEG with extra frames after the first
DEFAULT_MAX_PIXELS = 40_000_000

# decode_image checks the pixel count itself, against a limit the caller sets, and says what the
# header claimed; Pillow's own global check would refuse with a less useful message.
Image.MAX_IMAGE_PIXELS = None
# PNG text and colour-profile chunks are zlib streams a few KB can inflate to many MB; nothing we
# use needs more than a colour profile's worth (real ones are under 1 MB, most under 64 KB).
PngImagePlugin.MAX_TEXT_CHUNK = 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 2 * 1024 * 1024

_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = {5, 6, 7, 8}
# Box-reduce by whole factors down to 3x the target, then Lanczos: as sharp as Lanczos alone.
_REDUCING_GAP = 3.0


@dataclass(frozen=True)
class ImageHeader:
    """What a file says about itself before any pixel is decoded; width and height upright."""

    format: str
    width: int
    height: int
    orientation: int = 1  # EXIF's; 1 when the file has none

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width


def read_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """The format and upright size of a PNG, JPEG or WebP file; BadImage if it is not one, or if
    its header claims more than `max_pixels` (a decompression bomb costs nothing)."""
    return _opened(data, max_pixels)[1]


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS,
                 size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a PNG, JPEG or WebP file into an (H, W, 3) uint8 RGB array, upright as EXIF says.

    With `size` (height, width, upright), a larger picture comes out at exactly that size, decoded
    at a fraction of its resolution where the format allows (JPEG); a smaller one at its own.
    Every decoder failure, whatever the file's defect, is a BadImage.
    """
    image, header = _opened(data, max_pixels)
    try:
        return _decoded(image, header, size)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 (hostile files fail in every decoder's own way)
        raise BadImage(f"the {header.format} file is truncated or corrupt ({_reason(error)})"
                       ) from None


def _opened(data: bytes, max_pixels: int) -> tuple[Image.Image, ImageHeader]:
    if not data:
        raise BadImage("the image is empty")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 (an unknown format, or a header no plugin can parse)
        raise BadImage("the file is not a PNG, JPEG or WebP image, or its header is corrupt"
                       ) from None
    if image.format not in FORMATS:
        raise BadImage(f"{image.format} images are not supported; send PNG, JPEG or WebP")
    name = "JPEG" if image.format == "MPO" else image.format
    if width * height > max_pixels:
        raise BadImage(f"the image is {width}x{height} pixels, over the limit of "
                       f"{max_pixels:,} pixels")
    orientation = _orientation(image)
    if orientation in _SIDEWAYS:
        width, height = height, width
    return image, ImageHeader(name, width, height, orientation)


def _orientation(image: Image.Image) -> int:
    """EXIF orientation from what the header holds; a PNG's getexif() would decode the pixels."""
    raw = image.info.get("exif")
    if not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        orientation = int(exif.get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 (a broken EXIF block is no reason to refuse the picture)
        return 1
    return orientation if orientation in _UPRIGHT else 1


def _decoded(image: Image.Image, header: ImageHeader, size: tuple[int, int] | None
             ) -> np.ndarray:
    target = size if size and size[0] * size[1] < header.width * header.height else None
    if target and header.orientation in _SIDEWAYS:
        target = target[::-1]  # (height, width) as stored, before the transpose
    if target and header.format == "JPEG":
        image.draft(None, (target[1], target[0]))  # DCT scaling: 1/2, 1/4 or 1/8 while >= target
    image.load()
    image = _eight_bit(image)
    if target and image.size != (target[1], target[0]):
        image = image.resize((target[1], target[0]), Image.Resampling.LANCZOS,
                             reducing_gap=_REDUCING_GAP)
    if header.orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[header.orientation])
    return _to_rgb(image)


def _eight_bit(image: Image.Image) -> Image.Image:
    """L, LA, RGB or RGBA: the modes that resize well (alpha premultiplied) and convert exactly."""
    if image.mode.startswith("I"):
        # 16-bit greyscale (PNG): convert() would clip every value over 255 to white; keep the
        # high byte, as libpng's 16-to-8 stripping does.
        grey = np.clip(np.asarray(image), 0, 65535).astype(np.uint16) >> 8
        return Image.fromarray(grey.astype(np.uint8), "L")
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("PA", "La", "RGBa") or "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA"):
        # Transparent parts become white, as they look on a page, rather than whatever colour
        # the file happens to store under alpha 0.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 60 else text[:57] + "..."


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
