"""`nanke zoom / pan / square / inpaint` on job folders, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from inference.infotext import parse_infotext
from nanke.cli import cli


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _arr(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return _arr_of(image)


def _arr_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def grid_dir(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edits") / "fox"
    code, output = _invoke(
        "imagine", "a red fox --seed 3 --steps 2", "--models", str(tiny_models), "--out", str(out)
    )
    assert code == 0, output
    return out


def test_pan_writes_a_grid_that_keeps_the_tile(grid_dir: Path) -> None:
    code, output = _invoke("pan", str(grid_dir), "--index", "2", "--direction", "right")
    assert code == 0, output
    panned = grid_dir.with_name("fox-pr")
    assert sorted(p.name for p in panned.iterdir()) == [
        "1.png",
        "2.png",
        "3.png",
        "4.png",
        "grid.png",
        "job.json",
    ]
    assert np.array_equal(_arr(panned / "3.png")[:, :64], _arr(grid_dir / "2.png"))
    job = json.loads((panned / "job.json").read_text())
    assert job["spec"]["kind"] == "pan"
    assert job["spec"]["source"]["key"] == str(grid_dir / "2.png")
    assert job["spec"]["edit"]["direction"] == "right" and job["spec"]["edit"]["box"] == [
        0,
        0,
        64,
        64,
    ]


def test_inpaint_with_a_mask_keeps_the_rest_and_records_the_mask(
    grid_dir: Path, tmp_path: Path
) -> None:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 24))
    mask.save(tmp_path / "mask.png")
    out = tmp_path / "region"
    code, output = _invoke(
        "inpaint", str(grid_dir), "--mask", str(tmp_path / "mask.png"), "--out", str(out),
        "--prompt", "a blue sky",
    )  # fmt: skip
    assert code == 0, output
    assert np.array_equal(_arr(out / "1.png")[24:], _arr(grid_dir / "1.png")[24:])
    job = json.loads((out / "job.json").read_text())
    assert job["spec"]["kind"] == "vary_region" and job["spec"]["params"]["prompt"] == "a blue sky"
    assert job["spec"]["edit"]["mask_key"] == str(out / "mask.png")
    assert np.array_equal(_arr(out / "mask.png")[:, :, 0] > 0, np.asarray(mask) > 0)
    with Image.open(out / "2.png") as image:
        info = parse_infotext(str(image.info["parameters"]))
    assert info.prompt == "a blue sky" and info.params["Mask blur"] == "8"


def test_zoom_with_a_new_frame(grid_dir: Path, tmp_path: Path) -> None:
    code, output = _invoke(
        "zoom", str(grid_dir), "--factor", "1.5", "--prompt", "a fox --ar 3:1",
        "--out", str(tmp_path / "zoom"),
    )  # fmt: skip
    assert code == 0, output
    with Image.open(tmp_path / "zoom" / "grid.png") as grid:
        assert grid.size == (256, 128)
    shrunk = Image.open(grid_dir / "1.png").resize((43, 43), Image.Resampling.LANCZOS)
    assert np.array_equal(_arr(tmp_path / "zoom" / "2.png")[10:53, 42:85], _arr_of(shrunk))


def test_bad_edits_are_one_clear_line(grid_dir: Path, tmp_path: Path) -> None:
    code, output = _invoke("zoom", str(grid_dir), "--factor", "3")
    assert code == 2 and "3 is not from 1.0 to 2.0" in output
    code, output = _invoke("square", str(grid_dir))
    assert code == 1 and "Error: this image is already square" in output
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (32, 32), 255).save(tmp_path / "small.png")
    Image.new("L", (64, 64), 0).save(tmp_path / "empty.png")
    Image.new("L", (64, 64), 255).save(tmp_path / "full.png")
    expected = {
        "notes.png": "is not an image",
        "small.png": "is 32×32 but the image is 64×64",
        "empty.png": "selects nothing",
        "full.png": "selects the whole image",
    }
    for name, message in expected.items():
        code, output = _invoke("inpaint", str(grid_dir), "--mask", str(tmp_path / name))
        assert code == 1 and message in output and "Traceback" not in output, output
    code, output = _invoke("inpaint", str(grid_dir))
    assert code == 2 and "give either --mask MASK.png or --region NAME" in output
    assert not grid_dir.with_name("fox-r1").exists(), "nothing written for a refused edit"
