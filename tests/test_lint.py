"""Every module passes Pyflakes' checks (through ruff, configured in pyproject.toml): a name used but
never defined is a NameError on whichever path no test took, as the web app's download errors were."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def ruff_check(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUFF, "check", "--no-cache", "--output-format=concise", *paths],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_every_module_passes_pyflakes():
    checked = ruff_check(".")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_check_finds_an_undefined_name(tmp_path):
    module = tmp_path / "broken.py"
    module.write_text("def download():\n    return _error(404, 'no such result')\n")
    checked = ruff_check(module)
    assert checked.returncode == 1 and "F821" in checked.stdout and "_error" in checked.stdout
