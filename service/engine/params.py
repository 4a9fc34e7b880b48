"""What a stylization job asks for: every knob once, with its default, limits and help.

`StyleParams` is the schema. Each field's metadata (a `Knob`) is what the other interfaces derive
from it: the protocol's `start` message, the CLI's options, the service's limits, the stored
metadata and the web page's controls. A new knob is a new field here and its use in the engine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .errors import BadParams

INITS: tuple[str, ...] = ("content", "noise", "style")
OPTIMIZER_NAMES: tuple[str, ...] = ("lbfgs-adam", "adam", "lbfgs")
COLOR_MODES: tuple[str, ...] = ("none", "luminance", "histogram")
MAX_STYLES = 4  # paintings blended in one job
MAX_STYLE_SCALE = 4.0
# Adam's rate alone and after 200 L-BFGS steps, and L-BFGS's step scale (docs/benchmarks.md).
DEFAULT_LEARNING_RATES = {"lbfgs-adam": 0.035, "adam": 0.05, "lbfgs": 1.0}
LARGEST = 1e12  # bounds every weight and rate: far above any useful value, far below overflow

Group = Literal["run", "objective", "start", "optimizer"]


@dataclass(frozen=True)
class Knob:
    """One job parameter as every interface shows and bounds it."""

    name: str
    kind: type  # int, float or str
    default: object  # None: decided when the job runs (the optimiser's own learning rate)
    label: str
    help: str
    group: Group  # "run": how long and how large; the rest are the page's advanced controls
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    limit: str | None = None  # the service setting that caps it, e.g. "max_epochs"
    ui_range: tuple[float, float] | None = None  # a logarithmic slider's ends, for the web page

    @property
    def option(self) -> str:
        """The command-line option: `--tv-weight`."""
        return "--" + self.name.replace("_", "-")

    @property
    def default_text(self) -> str:
        """The default as the docs write it: `0.3`, `10000`, `content`."""
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


def _knob(default: object, label: str, help: str, group: Group, **details: object):
    return field(default=default,
                 metadata={"knob": {"label": label, "help": help, "group": group, **details}})


@dataclass(frozen=True)
class StyleParams:
    """One job's knobs, checked on creation. Defaults hold for both backbones."""

    epochs: int = _knob(20, "epochs", "a frame is produced after every epoch", "run",
                        minimum=1, limit="max_epochs")
    steps_per_epoch: int = _knob(50, "steps per epoch", "optimisation steps per epoch", "run",
                                 minimum=1, limit="max_steps_per_epoch")
    size: int = _knob(512, "output size", "longer side of the output in px (the content's "
                      "aspect ratio is kept)", "run", minimum=16, unit=" px", limit="max_size")
    # Chosen by contact sheets across pairs with the offline VGG16 (docs/quality.md). Style and
    # content are relative errors and total variation a mean over pixels, so a weight means the
    # same picture at every size. Content 1e3 against style 1e4 lets the painting's strokes sweep
    # across skies while the subject stays legible (1e4 left a tinted photograph, 3e3 a grainy
    # sky); total variation 3e3 is about a quarter of the final loss. The sum stays in the
    # thousands, the scale Adam's epsilon (0.1) was tuned against.
    style_weight: float = _knob(1e4, "style weight", "higher: more of the painting's texture",
                                "objective", minimum=0, maximum=LARGEST, ui_range=(1e1, 1e7))
    content_weight: float = _knob(1e3, "content weight", "higher: more of the photo's shapes",
                                  "objective", minimum=0, maximum=LARGEST, ui_range=(1e0, 1e6))
    tv_weight: float = _knob(3e3, "total variation weight", "higher: smoother, less noisy",
                             "objective", minimum=0, maximum=LARGEST, ui_range=(1e0, 1e6))
    # Gatys et al., "Preserving Color in Neural Artistic Style Transfer" (2016); colors.py.
    preserve_colors: str = _knob("none", "keep the photo's colours", "none; luminance (paint "
                                 "the luminance only, keep the photo's colour); histogram (give "
                                 "the painting the photo's colour statistics first)", "objective",
                                 choices=COLOR_MODES)
    style_scale: float = _knob(1.0, "brush scale", "the size of the painting's strokes in the "
                               "output, relative to the painting at the output's size",
                               "objective", minimum=1 / MAX_STYLE_SCALE, maximum=MAX_STYLE_SCALE)
    init: str = _knob("content", "start from", "the image the optimisation starts from: the "
                      "content, the style, or seeded noise", "start", choices=INITS)
    seed: int = _knob(0, "seed", "seed for init noise; runs are reproducible on the CPU", "start",
                      minimum=0)
    optimizer: str = _knob("lbfgs-adam", "optimiser", "lbfgs-adam (200 L-BFGS steps, then "
                           "Adam), adam (the tutorial's) or lbfgs", "optimizer",
                           choices=OPTIMIZER_NAMES)
    learning_rate: float | None = _knob(None, "learning rate", "Adam's rate, or L-BFGS's step "
                                        "scale with lbfgs; unset: the optimiser's own", "optimizer",
                                        minimum=0, maximum=LARGEST)

    def __post_init__(self) -> None:
        for knob in KNOBS:
            _check(knob, getattr(self, knob.name))

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> "StyleParams":
        """The knobs named in `values` (others and None keep their defaults)."""
        return cls(**{knob.name: values[knob.name] for knob in KNOBS
                      if values.get(knob.name) is not None})

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def style_zoom(self) -> float:
        """How many times smaller than the output the style loss sees it: the brush scale from 1
        up (below 1 the painting is shrunk instead)."""
        return max(1.0, self.style_scale)

    @property
    def zoomed(self) -> bool:
        """Whether the style loss also sees the output smaller (its own traced graph)."""
        return self.style_zoom > 1

    def resolved(self) -> "StyleParams":
        """These parameters with an unset learning rate taken from the optimiser's default."""
        if self.learning_rate is not None:
            return self
        return dataclasses.replace(self, learning_rate=DEFAULT_LEARNING_RATES[self.optimizer])

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def blend_weights(count: int, blend: Sequence[float] | None = None) -> tuple[float, ...]:
    """The weights of `count` paintings' style targets, summing to 1; equal when `blend` is None.

    BadParams for no painting or more than MAX_STYLES, a blend of another length, a negative or
    non-finite weight, or weights that are all zero.
    """
    if not 1 <= count <= MAX_STYLES:
        raise BadParams(f"a job takes 1 to {MAX_STYLES} paintings, got {count}")
    if blend is None:
        return (1.0 / count,) * count
    weights = tuple(blend)
    if len(weights) != count:
        raise BadParams(f"style_blend has {len(weights)} weights for {count} paintings")
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
               and w >= 0 for w in weights):
        raise BadParams(f"style_blend weights must be numbers of at least 0, got {list(weights)}")
    total = sum(weights)
    if total == 0:
        raise BadParams("style_blend weights must not all be 0")
    return tuple(w / total for w in weights)


STEERABLE = ("style_weight", "content_weight", "tv_weight", "style_blend")


def check_steer(paintings: int, changes: Mapping[str, object]) -> None:
    """BadParams unless `changes` are steerable names with values the schema allows, and a blend
    has a weight for each of the job's `paintings`."""
    unknown = set(changes) - set(STEERABLE)
    if unknown:
        raise BadParams(f"only {', '.join(STEERABLE)} can be steered, not "
                        f"{', '.join(sorted(unknown))}")
    weights = {name: value for name, value in changes.items() if name != "style_blend"}
    dataclasses.replace(StyleParams(), **weights)  # checks them as the schema does
    if "style_blend" in changes:
        blend_weights(paintings, changes["style_blend"])


def _check(knob: Knob, value: object) -> None:
    if value is None and knob.default is None:
        return
    if knob.choices:
        if value not in knob.choices:
            raise BadParams(f"{knob.name} must be one of {', '.join(knob.choices)}, "
                            f"got {value!r}")
        return
    whole = knob.kind is int
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        kind = "a whole number" if whole else "a number"
        raise BadParams(f"{knob.name} must be {kind}, got {value!r}")
    if knob.maximum is not None and not knob.minimum <= value <= knob.maximum:
        raise BadParams(f"{knob.name} must be a number from {knob.minimum:g} to "
                        f"{knob.maximum:g}, got {value!r}")
    if knob.minimum is not None and value < knob.minimum:
        raise BadParams(f"{knob.name} must be at least {knob.minimum:g}{knob.unit}, got {value}")


_KINDS = {"int": int, "float": float, "str": str, "float | None": float}
KNOBS: tuple[Knob, ...] = tuple(
    Knob(name=spec.name, kind=_KINDS[spec.type], default=spec.default, **spec.metadata["knob"])
    for spec in dataclasses.fields(StyleParams)
)
