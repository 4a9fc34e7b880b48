"""`python -m bench` (what `make bench` runs): measure the engine against the reference."""

import argparse
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes instead of the full run")
    parser.add_argument("--size", type=int, help="run every figure at this one size (a smoke run)")
    parser.add_argument("--samples", type=Path,
                        help="the folder with tubingen.jpg and starry_night.jpg")
    parser.add_argument("--output", type=Path,
                        help="the Markdown file to write (images go beside it)")
    parser.add_argument("--backbones", type=lambda text: tuple(text.split(",")),
                        help="comma-separated, default vgg19,vgg16")
    return parser


if __name__ == "__main__":
    arguments = parser().parse_args()
    from service.cli import start_tensorflow  # after parsing: --help needs no TensorFlow

    start_tensorflow()
    from .runner import main

    sys.exit(main(arguments))
