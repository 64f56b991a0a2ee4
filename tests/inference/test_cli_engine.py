"""`nanke imagine / upscale / vary / make-tiny-models` end to end on the tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from inference.infotext import parse_infotext
from nanke.cli import cli


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_make_tiny_models_says_the_images_are_noise(tiny_build: tuple[Path, str]) -> None:
    toml, output = tiny_build
    assert "noise" in output and str(toml) in output
    assert (toml.parent / "tiny-sd15.safetensors").is_file()
    assert sorted(p.name for p in (toml.parent / "loras").iterdir()) == [
        "glow.safetensors",
        "ink.safetensors",
    ]


@pytest.fixture(scope="module")
def job_dir(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "fox"
    prompt = "a red (fox:1.2) <lora:ink:0.5> --seed 5 --sampler Euler a --no snow --steps 3"
    code, output = _invoke("imagine", prompt, "--models", str(tiny_models), "--out", str(out))
    assert code == 0, output
    assert "denoise" in output and "ms/step" in output
    return out


def test_imagine_writes_grid_tiles_and_job(job_dir: Path) -> None:
    names = sorted(p.name for p in job_dir.iterdir())
    assert names == ["1.png", "2.png", "3.png", "4.png", "grid.png", "job.json"]
    job = json.loads((job_dir / "job.json").read_text())
    assert job["spec"]["kind"] == "imagine" and job["spec"]["generation"]["model"] == "tiny"
    seeds = job["result"]["seeds"]
    assert seeds == [5, 6, 7, 8]
    gen = job["spec"]["generation"]
    assert (gen["sampler"], gen["negative_prompt"], gen["steps"]) == ("euler_a", "snow", 3)
    assert gen["loras"] == [{"name": "ink", "weight": 0.5}]
    assert set(job["result"]["timings_ms"]) >= {"text_encode", "denoise", "vae_decode"}
    with Image.open(job_dir / "3.png") as image:
        assert image.size == (64, 64)
        info = parse_infotext(str(image.info["parameters"]))
        assert info.params["Seed"] == "7" and info.params["Sampler"] == "Euler a"
        assert info.prompt == "a red (fox:1.2)" and info.negative_prompt == "snow"
        assert [(x.name, x.weight) for x in info.loras] == [("ink", 0.5)]
    with Image.open(job_dir / "grid.png") as grid:
        assert grid.size == (128, 128)


def test_upscale_and_vary_from_a_job_folder(job_dir: Path, tmp_path: Path) -> None:
    code, output = _invoke("upscale", str(job_dir), "--index", "2", "--out", str(tmp_path / "u"))
    assert code == 0, output
    with Image.open(tmp_path / "u" / "1.png") as image:
        assert image.size == (128, 128)
    assert json.loads((tmp_path / "u" / "job.json").read_text())["spec"]["kind"] == "upscale"
    for strength in ("subtle", "strong"):
        out = tmp_path / strength
        code, output = _invoke(
            "vary", str(job_dir), "--index", "4", "--strength", strength, "--out", str(out)
        )
        assert code == 0, output
        assert (out / "grid.png").is_file()
        assert json.loads((out / "job.json").read_text())["spec"]["kind"] == f"vary_{strength}"
    # A vary folder is a job folder too.
    code, output = _invoke(
        "upscale", str(tmp_path / "strong"), "--index", "1", "--mode", "creative"
    )
    assert code == 0, output
    assert (tmp_path / "strong-u1" / "1.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["imagine", "a fox", "--model", "nope"], "unknown model 'nope'"),
        (["imagine", "a fox --lora nope"], "unknown LoRA 'nope'; available: glow, ink"),
        (["imagine", "a fox --sampler warp"], "unknown sampler"),
        (["imagine", "a fox --ar 16:9 in a hat"], "move 'in a hat' before --ar"),
        (["imagine", "a fox --clip-skip 12 --steps 1"], "too deep"),
        (["imagine", "a fox", "--models", "/nonexistent/models.toml"], "make-tiny-models"),
        (["upscale", "/nonexistent", "--index", "1"], "written by `nanke imagine`"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tiny_models: Path, args: list[str], message: str
) -> None:
    if "--models" not in args:
        args = [*args, "--models", str(tiny_models)] if args[0] == "imagine" else args
    code, output = _invoke(*args)
    assert code == 1 and message in output
    # Only the one-line error (model loading may draw progress bars before it).
    assert "Traceback" not in output and output.strip().splitlines()[-1].startswith("Error: ")


def test_one_folder_per_request(tiny_models: Path, tmp_path: Path) -> None:
    code, output = _invoke(
        "imagine",
        "a {red, blue} fox --steps 1",
        "--models",
        str(tiny_models),
        "--out",
        str(tmp_path),
    )
    assert code == 0, output
    for n, colour in ((1, "red"), (2, "blue")):
        job = json.loads((tmp_path / str(n) / "job.json").read_text())
        assert job["spec"]["generation"]["prompt"] == f"a {colour} fox"


def test_without_out_the_requests_share_one_folder(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = _invoke("imagine", "a {red, blue} fox --steps 1", "--models", str(tiny_models))
    assert code == 0, output
    (base,) = (tmp_path / "out").iterdir()
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]


def test_a_bad_request_among_several_fails_before_any_painting(
    tiny_models: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = _invoke(
        "imagine",
        "a fox --steps 1 --model {tiny, nope}",
        "--models",
        str(tiny_models),
        "--out",
        str(out),
    )
    assert code == 1 and "unknown model 'nope'" in output
    assert not out.exists()


def test_missing_tile_is_a_message(job_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "job.json").write_text((job_dir / "job.json").read_text())
    code, output = _invoke("vary", str(tmp_path / "job"), "--index", "1", "--strength", "subtle")
    assert code == 1 and "1.png not found" in output


def test_without_models_toml_the_default_is_sd15_from_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.registry import default_registry
    from nanke.commands.job_folders import models_file_option, registry_from

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NANKE_MODELS_FILE", raising=False)
    path, explicit = models_file_option()
    assert not explicit
    registry = registry_from(path, explicit)  # never downloads here: loading is lazy
    assert registry == default_registry()
    model = registry.model()
    assert (model.kind, model.family, model.source) == (
        "hub",
        "sd15",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
    )


def test_imagine_from_its_own_png_paints_the_same_tile(job_dir: Path, tiny_models: Path) -> None:
    out = job_dir.parent / "again"
    code, output = _invoke(
        "imagine", "--from", str(job_dir / "1.png"), "--models", str(tiny_models), "--out", str(out)
    )
    assert code == 0, output
    assert "prompt: a red (fox:1.2) <lora:ink:0.5> --no snow --sampler euler_a" in output
    with Image.open(job_dir / "1.png") as first, Image.open(out / "1.png") as again:
        assert first.tobytes() == again.tobytes()


def test_imagine_from_an_a1111_jpeg_maps_what_exists(tiny_models: Path, tmp_path: Path) -> None:
    text = (
        "masterpiece, a cat <lora:ink:0.7> <lora:pastel:0.5> <lora:my style:1>\n"
        "Negative prompt: lowres, blurry\n"
        "Steps: 3, Sampler: DPM++ 2M, Schedule type: Uniform, CFG scale: 6.5, Seed: 77, "
        "Size: 512x768, Model hash: abcdef0123, Model: dreamshaper_8, Version: v1.10.1, "
        "Dynamic thresholding enabled: True, Mimic scale: 6, Threshold percentile: 99"
    )
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    Image.new("RGB", (8, 8)).save(tmp_path / "civitai.jpg", exif=exif)
    out = tmp_path / "out"
    code, output = _invoke(
        "imagine", "--from", str(tmp_path / "civitai.jpg"), "--models", str(tiny_models),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert "note: LoRA pastel is not installed here: left out" in output
    assert "note: LoRA my style is not installed here: left out" in output
    assert "note: model dreamshaper_8 is not on this server" in output
    gen = json.loads((out / "job.json").read_text())["spec"]["generation"]
    assert gen["prompt"] == "masterpiece, a cat" and gen["negative_prompt"] == "lowres, blurry"
    assert (gen["sampler"], gen["steps"], gen["cfg"], gen["seed"]) == ("dpm++_2m", 3, 6.5, 77)
    assert gen["loras"] == [{"name": "ink", "weight": 0.7}]
    assert gen["dynthres"] == {"percentile": 99.0, "mimic": 6.0}
    assert "--ar 2:3" in output  # the tiny model's 64 px base rounds 2:3 to a square


def test_imagine_from_an_image_without_parameters_is_one_line(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    code, output = _invoke("imagine", "--from", str(tmp_path / "plain.png"))
    assert code == 1 and "plain.png holds no generation parameters" in output
    code, output = _invoke("imagine")
    assert code == 2 and "give a PROMPT or --from IMAGE" in output
