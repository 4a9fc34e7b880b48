"""Readers for the deployment files, shared by the tests in this folder.

Each returns plain data (dicts, lists, strings) so a test reads like a statement about the files.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.gpu"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "infra" / "compose.yaml"
K8S_DIR = ROOT / "infra" / "k8s"
K8S_MONITORING_DIR = K8S_DIR / "monitoring"  # for the cluster's monitoring, applied apart
CLOUDRUN = ROOT / "infra" / "cloudrun" / "service.yaml"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
VENV_BIN = Path(sys.executable).parent

# Variables a deployment may set that are not NST_*: read by the service (PORT), the web app
# (WEB_PORT) or boto3 (the credentials, and the checksum behaviour some S3-compatibles need).
PLATFORM_VARIABLES = {"PORT", "WEB_PORT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                      "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"}
SECRET_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NST_API_KEY"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# --- Dockerfile -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    value: str    # the rest of the logical line, continuations joined
    stage: str    # the `AS` name of the stage it belongs to ("" before the first FROM)
    line: int     # first physical line, 1-based


def dockerfile_instructions(text: str | None = None) -> list[Instruction]:
    """The Dockerfile's logical instructions, comments dropped, `\\` continuations joined."""
    text = DOCKERFILE.read_text() if text is None else text
    instructions, stage, pending, start = [], "", "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, value = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = value.split()
            stage = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else ""
        instructions.append(Instruction(keyword, " ".join(value.split()), stage, start))
    return instructions


def dockerfile_args() -> dict[str, str]:
    """Every `ARG NAME=default` in the file (the first default wins, as for a global ARG)."""
    args: dict[str, str] = {}
    for instruction in dockerfile_instructions():
        if instruction.keyword == "ARG" and "=" in instruction.value:
            name, _, default = instruction.value.partition("=")
            args.setdefault(name.strip(), default.strip())
    return args


def final_stage() -> str:
    return [i.stage for i in dockerfile_instructions() if i.keyword == "FROM"][-1]


def dockerfile_env(stage: str | None = None) -> dict[str, str]:
    """The ENV values set in a stage (the final one by default), `KEY=value` pairs only, with
    the build arguments' defaults in place of `${NAME}`: what a build without --build-arg sets."""
    stage = final_stage() if stage is None else stage
    args = dockerfile_args()
    env: dict[str, str] = {}
    for instruction in dockerfile_instructions():
        if instruction.keyword == "ENV" and instruction.stage == stage:
            for pair in shlex.split(instruction.value):
                key, _, value = pair.partition("=")
                env[key] = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), value)
    return env


def hadolint_ignores(text: str | None = None) -> list[tuple[int, list[str]]]:
    """(line, rule codes) of every `# hadolint ignore=...` pragma."""
    text = DOCKERFILE.read_text() if text is None else text
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r"\s*#\s*hadolint\s+ignore=([\w,]+)", line)
        if match:
            found.append((number, match.group(1).split(",")))
    return found


# --- .dockerignore ------------------------------------------------------------------------------

def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _pattern_matches(pattern: str, path: str) -> bool:
    pattern = pattern.rstrip("/")
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = path.split("/")
        return any(_pattern_matches(tail, "/".join(parts[i:])) for i in range(len(parts)))
    # A pattern naming a directory also covers everything below it.
    parts = path.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1))


def in_build_context(path: str) -> bool:
    """Whether Docker sends `path` (relative, `/`-separated) to the builder: the last matching
    .dockerignore pattern decides, `!` re-including."""
    included = True
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.lstrip("!"), path):
            included = negated
    return included


def build_context_files() -> list[str]:
    skip = {".git", ".venv"}  # large, and excluded anyway (asserted separately)
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in skip or not path.is_file():
            continue
        if in_build_context(relative.as_posix()):
            files.append(relative.as_posix())
    return sorted(files)


# --- YAML manifests -----------------------------------------------------------------------------

def yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in sorted(K8S_DIR.glob("*.yaml")) for doc in yaml_documents(path)]


def k8s_monitoring_documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in sorted(K8S_MONITORING_DIR.glob("*.yaml"))
            for doc in yaml_documents(path)]


def k8s_object(kind: str, name: str) -> dict:
    for _, doc in k8s_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no {kind} {name} in {K8S_DIR}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def cloudrun() -> dict:
    return yaml.safe_load(CLOUDRUN.read_text())


def container_env(container: dict, config_maps: dict[str, dict] | None = None) -> dict[str, str | None]:
    """A Kubernetes-style container's environment: `value`s as strings, secret references as None,
    and the keys of every ConfigMap it loads with envFrom."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        env.update((config_maps or {})[name]["data"])
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value") if "valueFrom" not in variable else None
    return env


def k8s_config_maps() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == "ConfigMap"}


def k8s_containers() -> list[tuple[str, dict]]:
    """(Deployment name, container) for every container of every Deployment."""
    return [
        (doc["metadata"]["name"], container)
        for _, doc in k8s_documents() if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


def deployed_containers() -> list[tuple[str, str, dict[str, str | None]]]:
    """Every container the deployment files run from the nst image, across all three platforms:
    (where, the nst sub-command it runs, its environment)."""
    found = []
    config_maps = k8s_config_maps()
    for deployment, container in k8s_containers():
        found.append((f"k8s {deployment}", container["command"][-1],
                      container_env(container, config_maps)))
    for name, service in compose()["services"].items():
        if "build" in service:
            found.append((f"compose {name}", service["command"][-1],
                          {k: compose_value(str(v)) for k, v in service.get("environment", {}).items()}))
    for container in cloudrun()["spec"]["template"]["spec"]["containers"]:
        found.append(("cloudrun", container["command"][-1], container_env(container)))
    return found


def compose_value(text: str, environment: dict[str, str] | None = None) -> str:
    """A compose string after interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?error}`) with
    `environment` as the shell's, empty by default: what `docker compose up` uses out of the box."""
    environment = environment or {}

    def substitute(match: re.Match) -> str:
        name, operator, default = match.group(1), match.group(2) or "", match.group(3) or ""
        value = environment.get(name, "")
        if operator == ":-":
            return value or default
        if operator == ":?" and not value:
            raise KeyError(f"compose needs {name}: {default}")
        return value

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, text)


def duration_seconds(text: str) -> float:
    """Compose durations such as `35s`, `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a compose duration: {text!r}")
    return sum(float(number) * units[unit] for number, unit in parts)
