"""Neural style transfer (Gatys et al.) in TensorFlow: no WebSockets, no storage, only images."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) is noise to a user of the CLI or service.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .errors import BadImage, BadParams, EngineError, WeightsError  # noqa: E402
from .loop import Engine, Frame  # noqa: E402
from .params import StyleParams  # noqa: E402
from .weights import ModelInfo  # noqa: E402

__all__ = [
    "BadImage", "BadParams", "Engine", "EngineError", "Frame", "ModelInfo", "StyleParams",
    "WeightsError",
]
