"""Decoding accepts what people upload and refuses the rest with a clear reason."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from service.engine import BadImage
from service.engine.images import (decode_image, encode_jpeg, encode_png, output_size,
                                   read_header)

picture = np.zeros((20, 40, 3), np.uint8)
picture[:, :20] = (255, 0, 0)  # left half red
picture[:, 20:] = (0, 0, 255)  # right half blue


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_each_format_decodes_to_rgb(fmt):
    decoded = decode_image(encoded(Image.fromarray(picture), fmt, quality=95))
    assert decoded.shape == (20, 40, 3) and decoded.dtype == np.uint8
    assert decoded[10, 5, 0] > 200 and decoded[10, 5, 2] < 60  # still red on the left
    assert decoded[10, 35, 2] > 200 and decoded[10, 35, 0] < 60  # still blue on the right


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    decoded = decode_image(encoded(Image.fromarray(picture), "JPEG", quality=95, exif=exif))
    assert decoded.shape == (40, 20, 3)
    assert decoded[5, 10, 0] > 200  # the red left half is now on top
    assert decoded[35, 10, 2] > 200


def test_transparent_pixels_become_white():
    rgba = np.zeros((8, 8, 4), np.uint8)  # black, fully transparent
    rgba[:, 4:] = (0, 128, 0, 255)  # opaque green on the right
    decoded = decode_image(encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert decoded.shape == (8, 8, 3)
    assert (decoded[:, :4] == 255).all()
    assert tuple(decoded[0, 6]) == (0, 128, 0)


def test_greyscale_becomes_three_equal_channels():
    grey = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), "L")
    decoded = decode_image(encoded(grey, "PNG"))
    assert decoded.shape == (8, 8, 3)
    assert (decoded[..., 0] == decoded[..., 1]).all() and (decoded[..., 1] == decoded[..., 2]).all()
    assert decoded[7, 7, 0] == 63


def test_truncated_file_is_refused():
    data = encode_jpeg(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(BadImage, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_text_file_is_refused():
    with pytest.raises(BadImage, match="not a PNG, JPEG or WebP"):
        decode_image(b"this is a shopping list, not a photograph\n")


def test_empty_upload_is_refused():
    with pytest.raises(BadImage, match="empty"):
        decode_image(b"")


def test_other_formats_are_refused_by_name():
    with pytest.raises(BadImage, match="GIF"):
        decode_image(encoded(Image.fromarray(picture), "GIF"))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width x height: a decompression bomb's calling card."""
    data = bytearray(encode_png(np.zeros((1, 1, 3), np.uint8)))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def test_huge_header_is_refused_before_decoding():
    with pytest.raises(BadImage, match="60000x60000 pixels, over the limit"):
        decode_image(png_claiming(60000, 60000))


def test_pixel_limit_is_configurable():
    image = encode_png(np.zeros((100, 100, 3), np.uint8))
    assert decode_image(image, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(BadImage, match="over the limit of 9,999 pixels"):
        decode_image(image, max_pixels=9_999)


def test_output_keeps_aspect_with_the_longer_side_at_size():
    assert output_size((768, 1024, 3), 512) == (384, 512)
    assert output_size((1528, 1200, 3), 256) == (256, 201)


def noise(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_large_picture_is_decoded_straight_to_the_size_asked(fmt):
    big = np.zeros((1500, 2000, 3), np.uint8)
    big[:, :1000] = (255, 0, 0)
    big[:, 1000:] = (0, 0, 255)
    decoded = decode_image(encoded(Image.fromarray(big), fmt, quality=90), size=(96, 128))
    assert decoded.shape == (96, 128, 3)
    assert decoded[48, 10, 0] > 200 and decoded[48, 118, 2] > 200


def test_a_small_picture_keeps_its_own_size_when_a_larger_one_is_asked():
    assert decode_image(encode_png(noise(30, 40)), size=(300, 400)).shape == (30, 40, 3)


def test_read_header_gives_the_upright_size_without_decoding():
    exif = Image.Exif()
    exif[0x0112] = 6
    header = read_header(encoded(Image.fromarray(noise(30, 40)), "JPEG", exif=exif))
    assert (header.format, header.width, header.height, header.orientation) == ("JPEG", 30, 40, 6)
    # A 60000 x 60000 header over a 1-pixel body: the limit applies to what it claims.
    with pytest.raises(BadImage, match="over the limit"):
        read_header(png_claiming(60000, 60000))


@pytest.mark.parametrize("orientation, upright_red_at", [(3, (15, 35)), (6, (5, 10)),
                                                         (8, (35, 10))])
def test_exif_orientation_is_applied_also_when_scaling_down(orientation, upright_red_at):
    exif = Image.Exif()
    exif[0x0112] = orientation
    big = np.repeat(np.repeat(picture, 20, axis=0), 20, axis=1)  # 400 x 800, red | blue
    data = encoded(Image.fromarray(big), "JPEG", quality=95, exif=exif)
    shape = (20, 40) if orientation == 3 else (40, 20)
    decoded = decode_image(data, size=shape)
    assert decoded.shape == (*shape, 3)
    assert decoded[upright_red_at][0] > 200 and decoded[upright_red_at][2] < 60


def test_a_16_bit_greyscale_png_keeps_its_tones():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    decoded = decode_image(encoded(Image.fromarray(ramp), "PNG"))
    assert decoded.shape == (16, 256, 3)
    assert decoded[0, 0, 0] == 0 and decoded[0, 128, 0] in (127, 128) and decoded[0, 255, 0] == 255
    assert abs(float(decoded.mean()) - 127.5) < 1.0  # not "nearly white"
    scaled = decode_image(encoded(Image.fromarray(ramp), "PNG"), size=(8, 128))
    assert abs(float(scaled.mean()) - 127.5) < 2.0


def test_an_mpo_from_a_camera_gives_its_first_picture():
    first, second = Image.fromarray(picture), Image.fromarray(picture[:, ::-1].copy())
    data = encoded(first, "MPO", save_all=True, append_images=[second], quality=95)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    decoded = decode_image(data, size=(10, 20))
    assert decoded.shape == (10, 20, 3) and decoded[5, 2, 0] > 200  # red on the left: frame one
