"""Shared pieces of the engine tests: real photographs and one loaded offline engine."""

from pathlib import Path

import numpy as np
import pytest

from service.engine import Engine
from service.engine.images import read_image, resize

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def _sample(name: str, fallback: str) -> np.ndarray:
    """A sample from ../shared/samples, or scikit-image's bundled photo where shared/ is absent."""
    if (SAMPLES / name).is_file():
        return read_image(str(SAMPLES / name))
    from skimage import data

    return getattr(data, fallback)()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.load("vgg16", "offline")


@pytest.fixture(scope="session")
def content() -> np.ndarray:
    image = _sample("tubingen.jpg", "astronaut")
    return resize(image, 96, 128)


@pytest.fixture(scope="session")
def style() -> np.ndarray:
    image = _sample("starry_night.jpg", "coffee")
    return resize(image, 80, 128)


@pytest.fixture(scope="session")
def full_photo() -> np.ndarray:
    """A photograph at full size, for jobs that choose their own size."""
    return _sample("tubingen.jpg", "astronaut")


@pytest.fixture(scope="session")
def full_painting() -> np.ndarray:
    return _sample("the_scream.jpg", "coffee")
