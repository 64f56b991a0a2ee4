"""`nanke edit` on the tiny models: a job folder's image or --image files → a grid folder
whose PNGs say what ran; refusals are one line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from inference.infotext import parse_infotext
from nanke.cli import cli


def _invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"NANKE_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_edit_a_job_folders_image_and_attached_files(
    family_build: tuple[Path, str], tmp_path: Path
) -> None:
    models = ("--models", str(family_build[0]))
    parent = tmp_path / "fox"
    code, out = _invoke(
        tmp_path, "imagine", "a fox --model tiny-flux --seed 2", *models, "--out", str(parent)
    )
    assert code == 0, out
    code, out = _invoke(tmp_path, "edit", str(parent), "--index", "3", "make it night --seed 5")
    assert code == 0, out
    folder = tmp_path / "fox-edit"
    job = json.loads((folder / "job.json").read_text())
    assert job["spec"]["kind"] == "edit" and job["spec"]["source"]["index"] == 3
    assert job["result"]["seeds"] == [5, 6, 7, 8]
    with Image.open(folder / "2.png") as image:
        assert image.size == (64, 64)
        info = parse_infotext(str(image.info["parameters"]))
    assert info.prompt == "make it night" and info.params["Seed"] == "6"
    assert info.params["Edit model"] == "tiny-flux (FluxKontextPipeline)"
    assert (folder / "grid.png").is_file()

    wide = tmp_path / "wide.png"
    Image.new("RGB", (90, 45), (200, 30, 30)).save(wide)
    out_dir = tmp_path / "hat"
    code, out = _invoke(
        tmp_path, "edit", "--image", str(wide), "add a hat", *models, "--out", str(out_dir)
    )
    assert code == 0, out
    job = json.loads((out_dir / "job.json").read_text())
    (ref,) = job["spec"]["edit"]["images"]
    assert (tmp_path / "data" / "images" / "refs" / f"{ref['sha256']}.png").is_file()
    with Image.open(out_dir / "1.png") as image:
        assert image.size == (96, 64)


def test_refusals_are_one_line(family_build: tuple[Path, str], tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(picture)
    models = ("--models", str(family_build[0]))
    code, out = _invoke(tmp_path, "edit", "--image", str(picture), "--image", str(picture),
                        "night", *models)  # fmt: skip
    assert code == 1 and "edits one image at a time, not 2" in out and "Traceback" not in out
    code, out = _invoke(tmp_path, "edit", "only-an-instruction")
    assert code == 2 and "give JOB_DIR and the instruction" in out
