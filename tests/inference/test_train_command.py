"""`nanke train` as an operator runs it: bad pictures and names are one-line refusals before
any training, and a run killed with SIGKILL continues from its checkpoint when run again."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from nanke.cli import cli


def photo(seed: int, size: tuple[int, int] = (512, 640), fmt: str = "PNG") -> bytes:
    """A smooth, distinct picture (compresses well: fast to write and read)."""
    rng = np.random.default_rng(seed)
    w, h = size
    xs = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 255, 3)
    ys = np.linspace(0, 1, h)[:, None, None] * rng.integers(0, 255, 3)
    data = np.clip(xs + ys, 0, 255).astype(np.uint8)
    for _ in range(6):  # a few blocks, so each picture has its own structure
        x, y = rng.integers(0, w - 64), rng.integers(0, h - 64)
        data[y : y + 64, x : x + 96 if x + 96 < w else w] = rng.integers(0, 255, 3)
    buf = io.BytesIO()
    Image.fromarray(data, "RGB").save(buf, format=fmt)
    return buf.getvalue()


def photos(folder: Path, count: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{i}.png").write_bytes(photo(i))
    return folder


@pytest.fixture
def models(tiny_models: Path, tmp_path: Path) -> Path:
    """A models.toml on the tiny model with an empty LoRA folder of its own."""
    (tmp_path / "loras").mkdir()
    toml = tmp_path / "models.toml"
    toml.write_text(
        f'lora_dir = "loras"\n[[models]]\nname = "tiny"\n'
        f'source = "{tiny_models.parent / "tiny-sd15"}"\nfamily = "sd15"\n'
        "default_steps = 2\nbase_size = 64\n",
        encoding="utf-8",
    )
    return toml


def train(models: Path, images: Path, *extra: str, name: str = "mia") -> tuple[int, str]:
    args = ["train", name, "--images", str(images), "--models", str(models), *extra]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("few", "4 pictures is too few: send 5-20 photos"),
        ("many", "21 pictures is too many: send at most 20"),
        ("tiny", "3.png is 300x200: the short side must be at least 512 px"),
        ("unreadable", "3.png cannot be read as an image"),
        ("gif", "3.png is GIF: send PNG, JPEG or WebP"),
        ("duplicates", "only 4 different pictures after dropping duplicates"),
    ],
)
def test_bad_pictures_are_refused_before_training(
    models: Path, tmp_path: Path, case: str, expected: str
) -> None:
    images = photos(tmp_path / "photos", {"few": 4, "many": 21}.get(case, 5))
    if case == "tiny":
        (images / "3.png").write_bytes(photo(3, (300, 200)))
    if case == "unreadable":
        (images / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    if case == "gif":
        buf = io.BytesIO()
        Image.new("RGB", (600, 600)).save(buf, format="GIF")
        (images / "3.png").write_bytes(buf.getvalue())
    if case == "duplicates":  # a re-encoded, resized copy is still the same picture
        copy = Image.open(io.BytesIO(photo(0))).resize((600, 750))
        copy.save(images / "4.jpg", format="JPEG", quality=90)
        (images / "4.png").unlink()
    code, output = train(models, images)
    assert code == 1, output
    assert expected in output
    assert "Traceback" not in output and "step " not in output
    assert not list((models.parent / "loras").iterdir())


def test_a_taken_name_an_unknown_model_and_a_bad_name_are_refused(
    models: Path, tmp_path: Path
) -> None:
    images = photos(tmp_path / "photos", 5)
    (models.parent / "loras" / "mia.safetensors").write_bytes(b"")
    code, output = train(models, images)
    assert code == 1 and "a LoRA named 'mia' already exists" in output
    code, output = train(models, images, "--model", "sdxl-big", name="other")
    assert code == 1 and "unknown model 'sdxl-big'" in output
    code, output = train(models, images, name="My LoRA!")
    assert code == 1 and "LoRA name 'My LoRA!' is not allowed" in output


def test_a_killed_run_resumes_from_its_checkpoint(models: Path, tmp_path: Path) -> None:
    images = photos(tmp_path / "photos", 5)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "nanke", "train", "mia", "--images", str(images)]
    args += ["--models", str(models), "--steps", "60", "--checkpoint-every", "5"]
    args += ["--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NANKE_WORKER__THREADS": "1"}
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoint = out / "work" / "checkpoint.pt"
    deadline = time.monotonic() + 180
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    early = first.stdout.read().decode() if first.stdout else ""
    assert first.returncode == -signal.SIGKILL, f"the run ended before it was killed: {early}"
    lora = models.parent / "loras" / "mia.safetensors"
    assert not lora.exists()
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    resumed = [line for line in second.stdout.splitlines() if line.startswith("resuming")]
    assert resumed, second.stdout
    step = int(resumed[0].rsplit(" ", 1)[1])
    assert step >= 5 and step % 5 == 0
    assert "step 60/60" in second.stdout
    assert lora.is_file() and len(list(out.glob("sample-*.png"))) == 4
    assert not (out / "work").exists()


def trained_lora(models: Path, tiny_models: Path, name: str, trigger: str | None) -> None:
    """A LoRA as `nanke train` writes it (kohya keys, trigger and subject in the metadata)."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tiny_models.parent / "loras" / "glow.safetensors"))
    meta = {"nanke_trigger": trigger, "nanke_subject": "pet"} if trigger else {}
    save_file(tensors, str(models.parent / "loras" / f"{name}.safetensors"), metadata=meta)


def test_a_pack_paints_one_grid_per_prompt_with_the_lora(
    models: Path, tiny_models: Path, tmp_path: Path
) -> None:
    import json

    trained_lora(models, tiny_models, "mia", "nkmia")
    packs = tmp_path / "packs.toml"
    packs.write_text(
        '[[packs]]\nname = "duo"\ndescription = "two"\n'
        'prompts = ["oil painting of {subject}", "{subject} in the snow --ar 2:1"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "album"
    args = ["pack", "mia", "duo", "--packs", str(packs), "--models", str(models)]
    result = CliRunner().invoke(cli, [*args, "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    jobs = [json.loads((out / n / "job.json").read_text())["spec"] for n in ("1", "2")]
    assert [j["params"]["prompt"] for j in jobs] == [
        "oil painting of nkmia pet",
        "nkmia pet in the snow",
    ]
    assert all(j["generation"]["loras"] == [{"name": "mia", "weight": 0.8}] for j in jobs)
    assert [j["generation"]["seed"] for j in jobs] == [3, 4]
    assert jobs[1]["params"]["aspect_ratio"] == "2:1"  # the template's own flags apply
    assert (out / "1" / "grid.png").is_file() and (out / "2" / "grid.png").is_file()


def test_pack_refusals_and_the_shipped_packs(models: Path, tiny_models: Path) -> None:
    trained_lora(models, tiny_models, "plain", None)
    shipped = CliRunner().invoke(cli, ["pack", "--list"])
    assert shipped.exit_code == 0 and "portraits:" in shipped.output
    code = CliRunner().invoke(cli, ["pack", "plain", "nope", "--models", str(models)])
    assert code.exit_code == 1 and "no pack named 'nope'; the packs are: fantasy" in code.output
    code = CliRunner().invoke(cli, ["pack", "plain", "portraits", "--models", str(models)])
    assert code.exit_code == 1 and "was not trained by Nanke" in code.output
    code = CliRunner().invoke(cli, ["pack", "ghost", "portraits", "--models", str(models)])
    assert code.exit_code == 1 and "Traceback" not in code.output and "ghost" in code.output
