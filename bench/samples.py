"""The photograph and the painting every figure uses (tubingen and starry_night by default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.engine.images import output_size, read_image, resize


@dataclass(frozen=True)
class Samples:
    content_path: Path
    style_path: Path
    content: np.ndarray  # full size, uint8
    style: np.ndarray

    @classmethod
    def read(cls, content_path: Path, style_path: Path) -> "Samples":
        for path in (content_path, style_path):
            if not path.is_file():
                raise FileNotFoundError(f"no sample image at {path}; pass another samples folder")
        return cls(content_path, style_path, read_image(str(content_path)),
                   read_image(str(style_path)))

    def at(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Content and style with their longer side `size`, resized as the engine resizes them."""
        return (resize(self.content, *output_size(self.content.shape, size)),
                resize(self.style, *output_size(self.style.shape, size)))

    def files(self) -> tuple[bytes, bytes]:
        """The encoded files, as a client uploads them."""
        return self.content_path.read_bytes(), self.style_path.read_bytes()
