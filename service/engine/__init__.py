"""Neural style transfer (Gatys et al.) in TensorFlow: no WebSockets, no storage, only images.

The names below load lazily, so `service.engine.params` and `service.engine.errors` can be used
(by the web app, the protocol) without importing TensorFlow.
"""

import importlib
import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) is noise to a user of the CLI or service.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_EXPORTS = {
    "BadImage": "errors", "BadParams": "errors", "EngineError": "errors", "WeightsError": "errors",
    "Engine": "loop", "Frame": "info", "StopSignal": "signals", "StyleParams": "params", "ModelInfo": "info",
    "Sizes": "info",
    "Steering": "signals",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
