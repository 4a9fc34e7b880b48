"""What a stylization job asks for, with defaults in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from .errors import BadParams

Init = Literal["content", "noise", "style"]
INITS: tuple[str, ...] = ("content", "noise", "style")
OPTIMIZER_NAMES: tuple[str, ...] = ("lbfgs-adam", "adam", "lbfgs")
# The rate is Adam's (L-BFGS takes full steps, as in the original neural-style). Adam keeps the
# tutorial's beta_1 0.99 and epsilon 0.1; measured on nst's objective at 256 px (bfloat16), alone it
# does best at 0.05 (0.02 is the tutorial's; 0.1 levels off, 0.2 diverges), and after 200 L-BFGS
# steps at 0.035 (0.05 oscillates there).
DEFAULT_LEARNING_RATES = {"lbfgs-adam": 0.035, "adam": 0.05, "lbfgs": 1.0}

# Chosen by contact sheets across pairs (docs/quality.md) with the offline VGG16; VGG19 with
# ImageNet weights could not be tried here. The style and content terms are relative errors and
# total variation a mean over pixels, so the weights mean the same picture at every size. Content
# 1e3 against style 1e4 lets the painting's strokes sweep across the sky while the buildings stay
# legible (content 3e3 and 1e4 left a tinted photograph). Total variation 3e3 is about a fifth of
# the final loss. The whole objective is kept near its former scale (thousands) because Adam's
# epsilon (0.1) was tuned against gradients of that size.
DEFAULT_LOSS_WEIGHTS: dict[str, dict[str, float]] = {
    "vgg19": {"style_weight": 1e4, "content_weight": 1e3, "tv_weight": 3e3},
    "vgg16": {"style_weight": 1e4, "content_weight": 1e3, "tv_weight": 3e3},
}


@dataclass(frozen=True)
class StyleParams:
    """One job's knobs. Loss weights left as None take the backbone's defaults."""

    epochs: int = 20
    steps_per_epoch: int = 50
    size: int = 512
    style_weight: float | None = None
    content_weight: float | None = None
    tv_weight: float | None = None
    init: str = "content"
    seed: int = 0
    optimizer: str = "lbfgs-adam"
    learning_rate: float | None = None  # None: the optimiser's own default

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "size", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadParams(f"{name} must be a whole number, got {value!r}")
        if self.epochs < 1:
            raise BadParams(f"epochs must be at least 1, got {self.epochs}")
        if self.steps_per_epoch < 1:
            raise BadParams(f"steps_per_epoch must be at least 1, got {self.steps_per_epoch}")
        if self.size < 16:
            raise BadParams(f"size must be at least 16 px, got {self.size}")
        if self.optimizer not in OPTIMIZER_NAMES:
            raise BadParams(
                f"optimizer must be one of {', '.join(OPTIMIZER_NAMES)}, got {self.optimizer!r}"
            )
        if self.init not in INITS:
            raise BadParams(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        for name in ("style_weight", "content_weight", "tv_weight", "learning_rate"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value < 1e12):
                raise BadParams(f"{name} must be a number from 0 to 1e12, got {value!r}")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def resolved(self, backbone: str) -> "StyleParams":
        """These parameters with every unset loss weight taken from the backbone's defaults."""
        defaults = {**DEFAULT_LOSS_WEIGHTS[backbone],
                    "learning_rate": DEFAULT_LEARNING_RATES[self.optimizer]}
        filled = {name: value for name, value in defaults.items() if getattr(self, name) is None}
        return dataclasses.replace(self, **filled)
