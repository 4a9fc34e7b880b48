"""The rooms of docs/architecture.md and who may import whom, checked on every module's imports.

The rules, with the one exception the docs name:
- the engine (service/engine/) imports nothing else of nst: it knows no sockets, storage or web;
- production code (service/) imports neither the web app, nor the benchmark, nor the dev stack;
  only `nst web` (service/cli.py) reaches the web app, lazily, as the command's entry point;
- the web app (web/) imports only the TensorFlow-free parts of the service it shares;
- the benchmark and the dev stack never reach the web app; the dev stack imports no nst code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("service", "web", "bench", "devstack")
WEB_MAY_USE = ("service.engine.params", "service.engine.errors", "service.protocol",
               "service.records", "service.settings")
EXCEPTIONS = {("service/cli.py", "web.app")}


def forbidden(path: str, module: str) -> str | None:
    """Why `path` (relative to the repository) may not import `module`, or None if it may."""
    room = module.split(".")[0]
    if (path, module) in EXCEPTIONS or room not in OURS:
        return None
    if path.startswith("service/engine/") and not module.startswith("service.engine"):
        return "the engine imports nothing else of nst"
    if path.startswith("service/") and room != "service":
        return "production code imports neither web/, nor bench/, nor devstack/"
    if path.startswith("web/") and room == "service" and not any(
            module == allowed or module.startswith(allowed + ".") for allowed in WEB_MAY_USE):
        return f"the web app uses only {', '.join(WEB_MAY_USE)} of the service"
    if path.startswith("web/") and room in ("bench", "devstack"):
        return "the web app imports neither the benchmark nor the dev stack"
    if path.startswith(("bench/", "devstack/")) and room == "web":
        return "tooling does not reach into the web app"
    if path.startswith("devstack/") and room != "devstack":
        return "the dev stack runs nst as processes, it imports none of it"
    return None


def imported_modules(source: str, path: str) -> set[str]:
    """Every module `source` imports, top level or inside functions, relative ones resolved."""
    package = path.removesuffix(".py").replace("/", ".").rsplit(".", 1)[0]
    if path.endswith("__init__.py"):
        package = path.removesuffix("/__init__.py").replace("/", ".")
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module or ""
            full = (f"{base}.{module}" if module else base) if node.level else module
            found.add(full)
            found |= {f"{full}.{alias.name}" for alias in node.names}  # `from . import x`
    return found


def violations(paths: list[Path]) -> list[str]:
    found = []
    for file in paths:
        path = file.relative_to(ROOT).as_posix()
        for module in sorted(imported_modules(file.read_text(), path)):
            reason = forbidden(path, module)
            if reason:
                found.append(f"{path} imports {module}: {reason}")
    return found


def sources() -> list[Path]:
    return sorted(file for room in OURS for file in (ROOT / room).rglob("*.py"))


def test_no_module_imports_across_a_forbidden_line():
    assert len(sources()) > 40
    assert violations(sources()) == []


@pytest.mark.parametrize(("path", "source"), [
    ("service/engine/loop.py", "from ..storage import Storage"),
    ("service/engine/images.py", "import service.protocol"),
    ("service/app.py", "from web import layout"),
    ("service/running.py", "def f():\n    from bench.report import render"),
    ("service/storage.py", "from devstack.seaweedfs import SeaweedFS"),
    ("web/app.py", "from service.engine.loop import Engine"),
    ("web/layout.py", "from bench import runner"),
    ("bench/runner.py", "import web.gallery"),
    ("devstack/__main__.py", "from service.settings import Settings"),
])
def test_the_rule_catches_an_import_across_each_line(path, source):
    reasons = [forbidden(path, module) for module in imported_modules(source, path)]
    assert any(reasons), (path, source)


def test_the_allowed_directions_pass():
    for path, source in [("service/app.py", "from .engine import Engine"),
                         ("web/gallery.py", "from service.records import JobSummary"),
                         ("bench/streaming.py", "from service.job_client import run_job"),
                         ("bench/live_service.py", "from devstack.seaweedfs import SeaweedFS"),
                         ("service/cli.py", "import web.app")]:
        assert not any(forbidden(path, m) for m in imported_modules(source, path)), source
