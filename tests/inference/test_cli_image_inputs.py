"""`nanke imagine … --image --iw --sref --oref` end to end on the tiny models (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from inference.infotext import parse_infotext
from nanke.cli import cli


def _invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"NANKE_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def _picture(path: Path, colour: tuple[int, int, int], fmt: str = "PNG") -> Path:
    Image.new("RGB", (40, 30), colour).save(path, format=fmt)
    return path


def test_image_prompt_and_references_from_files(tiny_models: Path, tmp_path: Path) -> None:
    red = _picture(tmp_path / "red.png", (230, 10, 10))
    style = _picture(tmp_path / "style.jpg", (10, 10, 230), "JPEG")
    thing = _picture(tmp_path / "thing.webp", (10, 200, 10), "WEBP")
    common = ("--models", str(tiny_models))
    prompt = "a lighthouse --seed 3 --steps 2"
    code, out = _invoke(tmp_path, "imagine", prompt, *common, "--out", str(tmp_path / "plain"))
    assert code == 0, out
    code, out = _invoke(
        tmp_path, "imagine", prompt, *common, "--out", str(tmp_path / "img"),
        "--image", str(red), "--iw", "1.5", "--sref", str(style), "--oref", str(thing),
    )  # fmt: skip
    assert code == 0, out
    job = json.loads((tmp_path / "img" / "job.json").read_text())
    refs = job["spec"]["generation"]["references"]
    assert [(r["role"], r["scale"]) for r in refs] == [
        ("image", 0.75),
        ("style", 0.5),
        ("object", 0.5),
    ]
    stored = sorted(p.name for p in (tmp_path / "data" / "images" / "refs").iterdir())
    assert sorted(f"{r['image']['sha256']}.png" for r in refs) == stored
    with Image.open(tmp_path / "img" / "1.png") as image:
        info = parse_infotext(str(image.info["parameters"]))
        assert info.params["Image prompts"] == f"{refs[0]['image']['sha256'][:12]}:0.75"
        painted = np.asarray(image, dtype=np.int16)
    with Image.open(tmp_path / "plain" / "1.png") as image:
        assert np.abs(painted - np.asarray(image, dtype=np.int16)).mean() > 1
    # V on the job folder reuses the stored images by their hash.
    code, out = _invoke(
        tmp_path, "vary", str(tmp_path / "img"), "--index", "2", "--strength", "subtle", *common
    )
    assert code == 0, out
    varied = json.loads((tmp_path / "img-v2" / "job.json").read_text())
    assert varied["spec"]["generation"]["references"] == refs


def test_refused_inputs_are_one_line_errors(tiny_models: Path, tmp_path: Path) -> None:
    bmp = _picture(tmp_path / "a.bmp", (1, 2, 3), "BMP")
    common = ("--models", str(tiny_models), "--out", str(tmp_path / "x"))
    code, out = _invoke(tmp_path, "imagine", "a cat", *common, "--image", str(bmp))
    assert code == 1 and "a.bmp: That file is not an image Nanke can read" in out
    code, out = _invoke(tmp_path, "imagine", "http://example.com/a.png a cat", *common)
    assert code == 1 and "must start with https://" in out and "Traceback" not in out
    code, out = _invoke(tmp_path, "imagine", "https://127.0.0.1/a.png a cat", *common)
    assert code == 1 and "private or reserved address" in out
    assert not (tmp_path / "x").exists()


def test_blend_two_images_into_a_grid(tiny_models: Path, tmp_path: Path) -> None:
    a = _picture(tmp_path / "a.png", (230, 10, 10))
    b = _picture(tmp_path / "b.gif", (10, 10, 230), "GIF")
    out = tmp_path / "blend"
    code, output = _invoke(
        tmp_path, "blend", str(a), str(b), "--dimensions", "3:2", "--seed", "4",
        "--models", str(tiny_models), "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    job = json.loads((out / "job.json").read_text())
    gen = job["spec"]["generation"]
    assert gen["blend"] is True and len(gen["references"]) == 2
    assert job["spec"]["params"]["aspect_ratio"] == "3:2"
    assert sorted(p.name for p in out.iterdir())[-2:] == ["grid.png", "job.json"]
    code, output = _invoke(tmp_path, "blend", str(a), "--models", str(tiny_models))
    assert code == 2 and "give 2 to 5 images, not 1" in output
