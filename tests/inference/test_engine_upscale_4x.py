"""Upscale (4x) through the engine and `nanke upscale --mode 4x`, on the tiny upscaler that
`nanke make-tiny-models` writes beside the tiny models."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from inference.errors import BadRequestError
from inference.infotext import parse_infotext
from inference.resolve import upscale_4x_spec
from inference.worker.upscaler_files import load_upscaler
from nanke.cli import cli
from pipeline.contracts import JobKind, UpscaleMode
from tests.inference.engine_helpers import spec, with_gen


def test_the_engine_runs_the_configured_gan_and_says_so(registry: Any, engine: Any) -> None:
    parent = spec(registry, seed=5, steps=2)
    source = engine.run(parent).images[0]
    job = upscale_4x_spec(parent, 1, "k/1.png", registry)
    assert (job.kind, job.upscale_mode) == (JobKind.UPSCALE, UpscaleMode.GAN_4X)
    out = engine.run(job, source=source)
    (image,) = out.images
    assert image.size == (256, 256) and out.steps_run == 0 and "upscale" in out.timings_ms
    info = parse_infotext(out.infotexts[0])
    assert info.params["Postprocess upscaler"] == "tiny RRDB x4"
    assert info.params["Postprocess upscale by"] == "4"
    assert info.params["Size"] == "256x256" and info.params["Seed"] == "5"
    # The pixels are the configured network's, run on the whole image here.
    net = load_upscaler(Path(registry.upscaler.path))
    x = torch.from_numpy(np.asarray(source, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = (net(x)[0].clamp(0, 1).permute(1, 2, 0) * 255).round().numpy()
    assert np.abs(np.asarray(image, dtype=np.float32) - expected).max() <= 1


def test_4x_is_refused_without_an_upscaler_or_past_4096_pixels(registry: Any) -> None:
    parent = spec(registry, seed=5, steps=2)
    bare = dataclasses.replace(registry, upscaler=None)
    with pytest.raises(BadRequestError, match=r"not set up on this server \(no \[upscaler\]"):
        upscale_4x_spec(parent, 1, "k/1.png", bare)
    big = with_gen(parent, width=1088, height=1024)
    with pytest.raises(BadRequestError, match="would make 4352×4096, beyond the largest side"):
        upscale_4x_spec(big, 1, "k/1.png", registry)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_nanke_upscale_mode_4x_writes_a_4x_job_folder(tiny_models: Path, tmp_path: Path) -> None:
    grid = tmp_path / "fox"
    code, output = _invoke(
        "imagine", "a fox --seed 3 --steps 2", "--models", str(tiny_models), "--out", str(grid)
    )
    assert code == 0, output
    code, output = _invoke("upscale", str(grid), "--index", "2", "--mode", "4x")
    assert code == 0, output
    assert "4x upscale" in output and "256x256" in output
    out = tmp_path / "fox-u2-4x"
    with Image.open(out / "1.png") as image:
        assert image.size == (256, 256)
        assert "Postprocess upscaler: tiny RRDB x4" in str(image.info["parameters"])
    job = json.loads((out / "job.json").read_text())
    assert job["spec"]["upscale_mode"] == "4x" and job["spec"]["source"]["index"] == 2

    # A models.toml whose upscaler file is broken: one line, no traceback.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x4.pth").write_text("not weights")
    text = tiny_models.read_text().replace('source = "tiny-upscaler.pth"', 'source = "x4.pth"')
    here = tiny_models.parent  # the models stay where they are; only the upscaler is broken
    keys = "source|config|inpaint|lora_dir|embeddings_dir|image_encoder"
    paths = rf'^({keys}) = "(tiny-[^"]*|loras|embeddings)"'
    text = re.sub(paths, lambda m: f'{m[1]} = "{here}/{m[2]}"', text, flags=re.M)
    toml = broken / "models.toml"
    toml.write_text(text)
    result = CliRunner().invoke(
        cli, ["upscale", str(grid), "--index", "1", "--mode", "4x", "--models", str(toml)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert "the 4x upscaler cannot be loaded" in line and "not a weights file" in line
