"""The arithmetic floor: convolution FLOPs per optimisation step, and what they cost on an H100.

Counted from the Keras model's own layers (kernel shapes, strides, padding), walked in order over
the truncated network the engine runs. A step is the forward pass plus the gradient with respect
to the input image: each convolution's input gradient is a transposed convolution with the same
multiply-adds as its forward pass, and no weight gradients are needed, so a step is 2x forward.
Pooling, ReLU, Gram matrices and the optimiser update are left out: a few percent at most.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from service.engine.features import BACKBONES, CONTENT_LAYERS, STYLE_LAYERS, truncate

# Dense peak throughput of an H100 SXM (NVIDIA's data sheet, without sparsity).
H100_PEAK_FLOPS = {"tf32": 495e12, "bf16": 790e12}


def conv_flops_per_step(backbone: str, height: int, width: int) -> float:
    """FLOPs (2 per multiply-add) of forward + input gradient, for one (height, width) image."""
    return 2.0 * forward_conv_flops(feature_network(backbone), height, width)


def feature_network(backbone: str) -> keras.Model:
    """The truncated VGG (weights do not matter for counting)."""
    return truncate(BACKBONES[backbone](include_top=False, weights=None),
                    STYLE_LAYERS + CONTENT_LAYERS)


def forward_conv_flops(model: keras.Model, height: int, width: int) -> float:
    """FLOPs of every Conv2D in `model` (a chain, as VGG is) for one image of that size."""
    shape = (1, height, width, 3)
    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        output = tuple(layer.compute_output_shape(shape))
        if isinstance(layer, keras.layers.Conv2D):
            kernel_height, kernel_width, channels_in, channels_out = layer.kernel.shape
            _, out_height, out_width, _ = output
            flops += 2.0 * out_height * out_width * channels_out * (
                kernel_height * kernel_width * channels_in)
        shape = output
    return flops


def h100_floor_seconds(flops_per_step: float, precision: str) -> float:
    """Seconds per step if an H100 ran these convolutions at its dense peak: a bound."""
    return flops_per_step / H100_PEAK_FLOPS[precision]


@dataclass(frozen=True)
class Floor:
    """What one step-speed row's FLOP count says: achieved throughput here, and an H100's bound."""

    model: str
    backbone: str
    size: int
    flops_per_step: float
    nst_s: float
    reference_s: float
    precision: str  # the engine's compute dtype

    @property
    def nst_flops_per_s(self) -> float:
        return self.flops_per_step / self.nst_s

    @property
    def reference_flops_per_s(self) -> float:
        return self.flops_per_step / self.reference_s

    @property
    def h100_tf32_s(self) -> float:
        return h100_floor_seconds(self.flops_per_step, "tf32")

    @property
    def h100_bf16_s(self) -> float:
        return h100_floor_seconds(self.flops_per_step, "bf16")

    @property
    def fraction_of_peak(self) -> float:
        """nst's achieved FLOP/s over the H100 peak of the precision it computes in."""
        half = self.precision in ("bfloat16", "float16") or self.precision.startswith("mixed")
        return self.nst_flops_per_s / H100_PEAK_FLOPS["bf16" if half else "tf32"]
