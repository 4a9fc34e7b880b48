"""`nst stylize` as a user runs it: a real process, real files, a report, plain errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from service.engine.images import encode_png


@pytest.fixture(scope="module")
def pair(tmp_path_factory, content, style):
    folder = tmp_path_factory.mktemp("pair")
    (folder / "content.png").write_bytes(encode_png(content))
    (folder / "style.png").write_bytes(encode_png(style))
    return folder


def nst(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_stylize_saves_the_image_frames_and_report(pair, tmp_path):
    result = nst(
        "stylize", pair / "content.png", pair / "style.png", "-o", tmp_path / "out.png",
        "--size", 64, "--epochs", 3, "--steps-per-epoch", 4, "--weights", "offline",
        "--frames-dir", tmp_path / "frames", "--report", tmp_path / "report.json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout
    output = np.asarray(Image.open(tmp_path / "out.png"))
    assert output.shape == (48, 64, 3)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "frame-001.png", "frame-002.png", "frame-003.png"
    ]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "frames/frame-003.png")), output)

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["backbone"] == "vgg16" and report["weights"] == "offline"
    assert report["size"] == [48, 64] and report["steps"] == 12
    assert 0 < report["seconds_per_step"] < report["first_frame_seconds"]
    assert [entry["epoch"] for entry in report["losses"]] == [1, 2, 3]
    assert [entry["step"] for entry in report["losses"]] == [4, 8, 12]
    assert set(report["losses"][0]) == {"epoch", "step", "total", "style", "content", "tv"}
    assert report["losses"][-1]["total"] < report["losses"][0]["total"]


def test_stylize_blends_paintings_and_keeps_the_photos_colours(pair, tmp_path, content):
    result = nst(
        "stylize", pair / "content.png", pair / "style.png", pair / "content.png",
        "--style-blend", "3,1", "--preserve-colors", "luminance", "--style-scale", "0.5",
        "-o", tmp_path / "out.png", "--size", 64, "--epochs", 1, "--steps-per-epoch", 4,
        "--weights", "offline", "--report", tmp_path / "report.json", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["style_blend"] == [0.75, 0.25]
    assert report["params"]["preserve_colors"] == "luminance"
    assert report["params"]["style_scale"] == 0.5
    output = np.asarray(Image.open(tmp_path / "out.png")).astype(float)
    photo = np.asarray(Image.fromarray(content).resize((64, 48), Image.Resampling.LANCZOS))
    colour = np.array([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])  # YIQ's I and Q
    assert np.median(np.abs((output - photo) @ colour.T)) < 1.5


@pytest.mark.parametrize(
    "args, message",
    [
        (["{notes}", "{style}"], "notes.txt: the file is not a PNG, JPEG or WebP image"),
        (["{content}", "{style}", "--epochs", "0"], "epochs must be at least 1"),
        (["{content}", "{style}", "--backbone", "vgg19", "--weights", "offline"], "VGG16"),
        (["{missing}", "{style}"], "cannot read"),
        (["{strip}", "{style}", "--size", "512"], "is 2000x40 px (50:1); at 512 px its shorter"),
        (["{content}", "{style}", "{style}", "--style-blend", "1,-1"],
         "style_blend weights must be numbers of at least 0"),
        (["{content}", "{style}", "--style-blend", "0.5,0.5"], "style_blend has 2 weights for 1"),
        (["{content}", "{style}", "--style-scale", "9"], "style_scale must be a number from 0.25"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(pair, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("hello")
    Image.new("RGB", (2000, 40)).save(tmp_path / "strip.png")
    paths = {"content": pair / "content.png", "style": pair / "style.png",
             "notes": tmp_path / "notes.txt", "missing": tmp_path / "missing.jpg",
             "strip": tmp_path / "strip.png"}
    result = nst("stylize", *[a.format(**paths) for a in args], "--weights",
                 "offline" if "--weights" not in args else args[-1], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"nst: error: {result.stderr.split('error: ')[1].strip()}"]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
