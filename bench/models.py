"""The networks both sides run: the engine, and a float32 VGG with the same weights.

ImageNet weights are used where Keras has them cached (or can download them); without them VGG16
takes the offline weights and VGG19 random weights: speed does not depend on weight values, and
the table says which weights each row used. The engine
computes in its default precision (bfloat16 where the hardware has it); the reference, like the
tutorial, in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from service.engine import Engine, ModelInfo
from service.engine.features import build_vgg, default_precision, dtype_policy
from service.engine.weights import imagenet_available, load_vgg

from .reference import reference_vgg


@dataclass
class BenchModel:
    engine: Engine
    vgg: keras.Model  # float32, the engine's weights: the reference's and the objective's network

    @property
    def backbone(self) -> str:
        return self.engine.model.backbone

    @property
    def weights(self) -> str:
        return self.engine.model.weights

    @property
    def label(self) -> str:
        return f"{self.backbone} ({self.weights} weights)"


def load_model(backbone: str) -> BenchModel:
    if imagenet_available(backbone):
        weights = "imagenet"
    elif backbone == "vgg16":
        weights = "offline"
    else:
        precision = default_precision()
        with dtype_policy(precision):
            vgg = build_vgg(backbone)
        engine = Engine(vgg, ModelInfo(backbone, "random", precision))
        return BenchModel(engine, reference_vgg(backbone, vgg))
    # Loaded twice, so the engine builds its network its own way.
    vgg, _ = load_vgg(backbone, weights, "float32")
    return BenchModel(Engine.load(backbone, weights), vgg)


def default_backbone() -> str:
    """The backbone `Engine.load()` picks by default here: VGG19 when its ImageNet weights load."""
    return "vgg19" if imagenet_available("vgg19") else "vgg16"
