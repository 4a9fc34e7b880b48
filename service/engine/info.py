"""What the engine reports and checks, as plain data: the model in use, a frame, and the image
sizes the network can take. No TensorFlow, so a process that only talks to an engine (the
service, which runs it in a child process) never loads it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import images
from .errors import BadImage
from .params import StyleParams


@dataclass(frozen=True)
class ModelInfo:
    """The network actually in use: reported with every result."""

    backbone: str
    weights: str
    precision: str = "float32"

    def as_dict(self) -> dict[str, str]:
        return {"backbone": self.backbone, "weights": self.weights, "precision": self.precision}


@dataclass(frozen=True)
class Frame:
    """The image after an epoch, with where the run stands. Plain data: no tensors."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    losses: dict[str, float]
    image: np.ndarray  # (H, W, 3) uint8
    elapsed_s: float


@dataclass(frozen=True)
class Sizes:
    """The sizes a job's images are painted at, and the smallest the network takes."""

    min_side: int  # 2 ** the network's poolings: a shorter side would vanish inside it

    def output_size(self, shape: tuple[int, ...], size: int, name: str = "content",
                    zoom: float = 1.0) -> tuple[int, int]:
        """(height, width) of the `name` image at `size` px; BadImage if the network cannot take
        it (its shorter side would vanish in the poolings), or, with a brush scale above 1, its
        copy `zoom` times smaller that the style loss sees (StyleParams.style_zoom)."""
        height, width = images.output_size(shape, size, self.min_side, name)
        if min(height, width) < self.min_side * zoom:
            raise BadImage(
                f"at {size} px the {name} image is {width}x{height} px; brush scale {zoom:g} "
                f"paints its style on a copy {zoom:g} times smaller, and the network needs that "
                f"copy's shorter side to be at least {self.min_side} px: send a larger size or "
                f"a smaller brush scale")
        return height, width

    def style_size(self, shape: tuple[int, ...], params: StyleParams) -> tuple[int, int]:
        """(height, width) a painting is resized to before its features are taken: its longer
        side `style_scale` times the output's below 1, the output's from 1 up (above 1 the engine
        magnifies that copy itself, so no finer detail of the original comes in).
        BadImage if the network cannot take it."""
        side = max(1, round(params.size * min(1.0, params.style_scale)))
        try:
            return images.output_size(shape, side, self.min_side, "style")
        except BadImage as error:
            if params.style_scale >= 1:
                raise
            raise BadImage(f"{error} (style_scale {params.style_scale:g} makes the painting "
                           f"{side} px; a larger style_scale lets it through)") from None
