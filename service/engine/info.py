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
    max_style_side: int  # the painting's longer side at most (style_scale)

    def output_size(self, shape: tuple[int, ...], size: int, name: str = "content"
                    ) -> tuple[int, int]:
        """(height, width) of the `name` image at `size` px; BadImage if the network cannot take
        it (its shorter side would vanish in the poolings)."""
        return images.output_size(shape, size, self.min_side, name)

    def style_size(self, shape: tuple[int, ...], params: StyleParams) -> tuple[int, int]:
        """(height, width) a painting is resized to before its features are taken: its longer
        side `style_scale` times the output's, at most `max_style_side`. BadImage if the network
        cannot take it."""
        side = min(max(1, round(params.size * params.style_scale)), self.max_style_side)
        try:
            return images.output_size(shape, side, self.min_side, "style")
        except BadImage as error:
            raise BadImage(f"{error} (style_scale {params.style_scale:g} makes the painting "
                           f"{side} px; a larger style_scale lets it through)") from None
