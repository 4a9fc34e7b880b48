"""The picture's balance and edges: one set of weights means the same picture at every size, and
no side of the picture is rougher than its interior."""

import numpy as np
import pytest

from bench import sheets
from bench.robustness import layout_correlation
from bench.sheets import edge_excess, edge_roughness, worst_side
from service.engine import StyleParams
from service.engine.images import resize


def last_frame(engine, photo, painting, size: int, steps: int):
    frames = engine.stylize(photo, painting, StyleParams(epochs=1, steps_per_epoch=steps,
                                                         size=size))
    return list(frames)[-1]


def test_each_term_keeps_its_share_of_the_loss_from_128_to_256_px(engine, full_photo,
                                                                  full_painting):
    shares = {}
    for size in (128, 256):
        losses = last_frame(engine, full_photo, full_painting, size, steps=40).losses
        shares[size] = {term: losses[term] / losses["total"] for term in ("style", "content", "tv")}
    for term in ("style", "content", "tv"):
        small, large = shares[128][term], shares[256][term]
        assert small > 0.02 and large > 0.02, (term, shares)
        assert 0.5 <= small / large <= 2.0, (term, shares)


def test_no_side_is_rougher_than_two_and_a_half_times_the_interior(engine, full_photo,
                                                                   full_painting):
    image = last_frame(engine, full_photo, full_painting, 256, steps=150).image
    roughness = edge_roughness(image)
    assert max(roughness.values()) <= 2.5, roughness


def test_a_pale_photo_keeps_its_layout_through_a_long_job(engine, full_painting):
    """A pale microscope slide under The Scream: with block1_conv1's colour statistics at a full
    share, the background darkened until the layout was gone (docs/quality.md)."""
    from skimage import data

    photo = data.immunohistochemistry()
    frames = list(engine.stylize(photo, full_painting, StyleParams(epochs=8, steps_per_epoch=50,
                                                                   size=128)))
    at_size = resize(photo, *frames[-1].image.shape[:2])
    layouts = [layout_correlation(at_size, frame.image) for frame in frames]
    assert min(layouts) > 0.7, [round(layout, 2) for layout in layouts]


def test_edge_roughness_sees_a_noisy_border():
    rng = np.random.default_rng(0)
    image = np.full((64, 80, 3), 120, np.uint8) + rng.integers(0, 8, (64, 80, 3), dtype=np.uint8)
    assert max(edge_roughness(image).values()) < 1.5
    image[0] = rng.integers(0, 256, (80, 3), dtype=np.uint8)
    assert edge_roughness(image)["top"] > 10
    assert worst_side(edge_roughness(image)).endswith(" top")


def test_sheets_refuse_a_pair_they_do_not_know(capsys):
    with pytest.raises(SystemExit) as exit:
        sheets.main(["--pairs", "tubingen-the_scream,tubingen-the_screem"])
    assert exit.value.code == 2
    assert "no such pair: tubingen-the_screem" in capsys.readouterr().err


def test_edge_excess_forgives_a_border_as_busy_as_the_photos():
    rng = np.random.default_rng(0)
    photo = np.full((64, 80, 3), 120, np.uint8) + rng.integers(0, 8, (64, 80, 3), dtype=np.uint8)
    photo[0] = rng.integers(0, 256, (80, 3), dtype=np.uint8)  # a lattice along the top
    assert edge_excess(photo.copy(), photo)["top"] < 1.5
    smooth = np.full((64, 80, 3), 120, np.uint8) + rng.integers(0, 8, (64, 80, 3), dtype=np.uint8)
    assert edge_excess(photo, smooth)["top"] > 10  # a line the photo does not have
