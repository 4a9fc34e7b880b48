"""Dockerfile.gpu: lint-clean, pinned to what the tests run, installed the way `make install` does.

These read the file; test_image.py builds its CPU image and runs a job in it. The GPU image (CUDA
base, `gpu` extra, ImageNet weights) cannot be built here, so its defaults are checked here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra_files import (
    DOCKERFILE, ROOT, VENV_BIN, build_context_files, dockerfile_args, dockerfile_env,
    dockerfile_instructions, final_stage, hadolint_ignores, in_build_context, k8s_object, pyproject,
)

HADOLINT = str(VENV_BIN / "hadolint")


def hadolint(path: str, *options: str, stdin: str | None = None) -> tuple[int, list[dict]]:
    """Run hadolint with every rule counted (threshold `style`, the lowest); its findings as JSON."""
    result = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", "--format", "json", *options, path],
        input=stdin, capture_output=True, text=True, timeout=60,
    )
    return result.returncode, json.loads(result.stdout or "[]")


def instructions(keyword: str, stage: str | None = None) -> list[str]:
    return [i.value for i in dockerfile_instructions()
            if i.keyword == keyword and (stage is None or i.stage == stage)]


def requirement(name: str, requirements: list[str]) -> Requirement:
    matches = [Requirement(r) for r in requirements if Requirement(r).name == name]
    assert len(matches) == 1, f"expected one {name} requirement in {requirements}"
    return matches[0]


# --- lint -----------------------------------------------------------------------------------------

def test_hadolint_finds_nothing_in_dockerfile_gpu():
    code, findings = hadolint(str(DOCKERFILE))
    assert findings == [] and code == 0


def test_hadolint_does_report_a_known_bad_dockerfile():
    # Guards the test above: a hadolint that never reports anything would also "pass" it.
    bad = "FROM ubuntu\nUSER app\nRUN apt-get update && apt-get install -y curl\nCMD nst serve\n"
    code, findings = hadolint("-", stdin=bad)
    assert code != 0
    assert {"DL3006", "DL3066", "DL3015", "DL3025"} <= {f["code"] for f in findings}


def test_every_ignored_rule_is_explained_and_still_needed():
    lines = DOCKERFILE.read_text().splitlines()
    ignores = hadolint_ignores()
    for number, _ in ignores:
        above = lines[number - 2].strip()
        assert above.startswith("#") and "hadolint" not in above, (
            f"line {number}: a hadolint ignore needs a comment above it saying why")
    # With the pragmas switched off, hadolint reports exactly the ignored rules: none is stale.
    _, findings = hadolint(str(DOCKERFILE), "--disable-ignore-pragma")
    assert {f["code"] for f in findings} == {code for _, codes in ignores for code in codes}


# --- pinned to what the tests run ---------------------------------------------------------------

def test_tensorflow_pin_is_the_tested_release_and_inside_both_pyproject_ranges():
    pinned = dockerfile_args()["TF_VERSION"]
    assert pinned == importlib.metadata.version("tensorflow")
    project = pyproject()["project"]
    tested = requirement("tensorflow", project["dependencies"])
    gpu = requirement("tensorflow", project["optional-dependencies"]["gpu"])
    assert gpu.extras == {"and-cuda"}
    assert gpu.specifier == tested.specifier, "the gpu extra must allow exactly the tested range"
    assert pinned in tested.specifier
    build = " ".join(instructions("RUN", "build"))
    # The extra adds CUDA's wheels to the same pinned TensorFlow.
    assert '"tensorflow==${TF_VERSION}"' in build


def test_base_image_is_the_cuda_tested_tensorflow_was_built_against():
    spec = importlib.util.find_spec("tensorflow")
    build_info = Path(spec.origin).parent / "python" / "platform" / "build_info.py"
    info = re.search(r"OrderedDict\((\[.*\])\)", build_info.read_text(), re.S).group(1)
    cuda = dict(ast.literal_eval(info))["cuda_version"]
    assert dockerfile_args()["CUDA_VERSION"] == cuda
    assert dockerfile_args()["BASE_IMAGE"] == "nvidia/cuda:${CUDA_VERSION}-base-ubuntu${UBUNTU_VERSION}"
    assert instructions("FROM")[0] == "${BASE_IMAGE} AS python"


def test_python_is_the_minor_version_the_tests_run_on():
    assert dockerfile_args()["PYTHON_VERSION"] == f"{sys.version_info.major}.{sys.version_info.minor}"


# --- installed as `make install` does ------------------------------------------------------------

INSTALL_STEPS = {
    "venv": r"-m venv\b",
    "pip upgrade": r"-m pip install (?:--quiet )?--upgrade pip\b",
    "project": r"-m pip install (?:--quiet )?(?:-e )?['\"]\.(\S*?)['\"]",
}


def _steps(text: str) -> list[tuple[int, str, str]]:
    found = []
    for step, pattern in INSTALL_STEPS.items():
        match = re.search(pattern, text)
        assert match, f"no {step} step in {text!r}"
        found.append((match.start(), step, match.group(1) if match.groups() else ""))
    return sorted(found)


def test_install_runs_make_installs_steps_in_order_with_only_the_runtime_extra():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(VENV\)/\.installed:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    make_steps = _steps(recipe)
    image_steps = _steps(" ".join(instructions("RUN", "build")))
    assert [s for _, s, _ in make_steps] == [s for _, s, _ in image_steps]
    assert dict((s, e) for _, s, e in make_steps)["project"] == "[dev]"  # dev pulls in web
    # `.[gpu]` by default, plain `.` with EXTRA empty (the CPU image): never the dev or web extras.
    assert dict((s, e) for _, s, e in image_steps)["project"] == "${EXTRA:+[${EXTRA}]}"
    assert dockerfile_args()["EXTRA"] == "gpu" and "gpu" in pyproject()["project"]["optional-dependencies"]


def test_the_build_copies_everything_the_package_build_needs():
    copied = {source for value in instructions("COPY", "build") for source in value.split()[:-1]}
    needed = {"pyproject.toml", pyproject()["project"]["readme"], "service"}
    assert needed == copied, "the service's image holds the service only (not web/)"
    context = build_context_files()
    for source in copied:
        assert any(f == source or f.startswith(source + "/") for f in context), (
            f"{source} is copied but .dockerignore keeps it out of the build context")


def test_dockerignore_keeps_the_venv_data_and_tests_out_of_the_context():
    for path in (".venv/bin/python", ".git/HEAD", ".data/s3/x", "tests/infra/test_dockerfile.py",
                 "artifacts/web/x.png", "service/__pycache__/app.cpython-311.pyc", "Makefile",
                 "web/assets/nst.css", "bench/report.py", "devstack/cpu_image.py"):
        assert not in_build_context(path), path
    for path in ("pyproject.toml", "README.md", "service/app.py", "service/engine/loop.py"):
        assert in_build_context(path), path


def test_the_installed_package_carries_every_file_of_the_source_packages(tmp_path):
    """The image installs a wheel (not the editable tree the tests use): every file of `service/`
    in the build context must be in it, or the image runs without it."""
    context = tmp_path / "context"
    for relative in build_context_files():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, context / relative)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"),
         str(context)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("nst-*.whl"))
    packaged = set(zipfile.ZipFile(wheel).namelist())
    sources = {f for f in build_context_files() if f.startswith("service/")}
    assert sources - packaged == set()


# --- the runtime image ---------------------------------------------------------------------------

def test_runtime_environment_serves_on_port_8080_on_all_interfaces_with_imagenet_weights():
    env = dockerfile_env()
    assert env["PORT"] == "8080"
    assert env["NST_HOST"] == "0.0.0.0"
    assert env["NST_WEIGHTS"] == "imagenet"
    assert instructions("EXPOSE", final_stage()) == [env["PORT"]]


def test_runs_as_a_numeric_non_root_user_that_kubernetes_also_uses():
    uid = dockerfile_args()["UID"]
    assert uid.isdigit() and int(uid) != 0
    assert instructions("USER", final_stage()) == ["${UID}"]
    assert any('--uid "${UID}"' in run for run in instructions("RUN", final_stage()))
    for name in ("nst-service", "nst-web"):
        pod = k8s_object("Deployment", name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(uid)


def test_the_served_weights_are_loaded_at_build_time_as_the_runtime_user():
    ordered = [i for i in dockerfile_instructions() if i.stage == final_stage()]
    user_at = next(n for n, i in enumerate(ordered) if i.keyword == "USER")
    bake = [(n, i.value) for n, i in enumerate(ordered) if i.keyword == "RUN" and "load_vgg" in i.value]
    assert len(bake) == 1
    position, command = bake[0]
    assert position > user_at, "the weights must land in the runtime user's KERAS_HOME"
    # The service's own settings (NST_WEIGHTS, NST_BACKBONE from the build arguments) and loader,
    # so what is baked is what `nst serve` loads.
    assert "settings = Settings(); load_vgg(settings.backbone, settings.weights)" in command
    env = dockerfile_env()
    assert (env["NST_WEIGHTS"], env["NST_BACKBONE"]) == ("imagenet", "vgg19")
    assert dockerfile_env()["KERAS_HOME"].startswith("/home/nst/")


def test_serves_by_default_stops_on_sigterm_and_checks_healthz():
    stage = final_stage()
    assert json.loads(instructions("CMD", stage)[-1]) == ["nst", "serve"]
    assert instructions("STOPSIGNAL", stage) == ["SIGTERM"]
    (healthcheck,) = instructions("HEALTHCHECK", stage)
    assert "/healthz" in healthcheck and "os.environ.get('PORT'" in healthcheck


def healthcheck_command() -> list[str]:
    (healthcheck,) = instructions("HEALTHCHECK", final_stage())
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


@pytest.mark.timeout(300)
def test_the_images_command_serves_its_healthcheck_and_exits_0_on_its_stop_signal(s3_server, tmp_path):
    from service_process import running_image_command

    command = json.loads(instructions("CMD", final_stage())[-1])
    with running_image_command(command, dockerfile_env(), s3_server, tmp_path) as (process, port):
        probe = {"PORT": str(port)}
        healthy = subprocess.run(healthcheck_command(), env=probe, capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
        process.send_signal(getattr(signal, instructions("STOPSIGNAL", final_stage())[0]))
        assert process.wait(timeout=60) == 0
    stopped = subprocess.run(healthcheck_command(), env=probe, capture_output=True, timeout=30)
    assert stopped.returncode != 0
