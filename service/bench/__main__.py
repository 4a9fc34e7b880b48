"""`python -m service.bench`: `nst bench` with the options the CLI may not offer yet."""

import argparse
import sys
from pathlib import Path

from . import main


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes instead of the full run")
    parser.add_argument("--size", type=int, help="run every figure at this one size (a smoke run)")
    parser.add_argument("--samples", type=Path,
                        help="the folder with tubingen.jpg and starry_night.jpg")
    parser.add_argument("--output", type=Path, help="the Markdown file to write")
    parser.add_argument("--backbones", type=lambda text: tuple(text.split(",")),
                        help="comma-separated, default vgg19,vgg16")
    return parser


if __name__ == "__main__":
    sys.exit(main(parser().parse_args()))
