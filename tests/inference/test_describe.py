"""/describe's engine half and `nanke describe` on the tiny BLIP and CLIP models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from inference.describe import MAX_SUGGESTION_CHARS, VOCABULARIES, load_vocabularies
from nanke.cli import cli
from prompt import parse_prompt


def sunset() -> Image.Image:
    image = Image.new("RGB", (96, 64), (250, 140, 40))
    ImageDraw.Draw(image).ellipse((30, 20, 60, 50), fill=(255, 240, 120))
    return image


def noise() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def describer(registry: Any) -> Any:
    import torch

    from inference.worker.describe import Describer

    return Describer(registry, torch.device("cpu"), torch.float32)


@pytest.fixture(scope="module")
def described(describer: Any) -> Any:
    return describer.describe(sunset())


def test_four_distinct_prompts_within_discord_limits(described: Any) -> None:
    prompts = described.prompts
    assert len(prompts) == 4 and len(set(prompts)) == 4
    for prompt in prompts:
        assert 0 < len(prompt) <= MAX_SUGGESTION_CHARS
        # Each runs as /imagine as it is: one request, the image's shape as --ar.
        [request] = parse_prompt(prompt)
        assert request.aspect_ratio == "3:2"
        assert request.prompt.startswith(described.caption.strip(" ,.")[:10])


def test_prompts_carry_the_clip_ranking_best_first(describer: Any, described: Any) -> None:
    vocab = load_vocabularies()
    for name in VOCABULARIES:
        ranking = described.ranked[name]
        assert sorted(ranking) == sorted(vocab[name]), "a ranking of the whole vocabulary"
    for n, prompt in enumerate(described.prompts):
        assert described.ranked["medium"][n] in prompt
        assert described.ranked["style"][n] in prompt
        assert f"by {described.ranked['artist'][n]}" in prompt
        assert described.ranked["lighting"][n] in prompt
    # The ranking is CLIP's: recompute the best medium from the embeddings.
    import torch

    models = describer._ready()
    pixels = models.clip_processor(images=sunset(), return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        image = models.clip.get_image_features(pixel_values=pixels)
        image = getattr(image, "pooler_output", image)
    scores = models.term_embeds["medium"] @ torch.nn.functional.normalize(image, dim=-1)[0]
    assert described.ranked["medium"][0] == vocab["medium"][int(scores.argmax())]


def test_a_different_image_gets_a_different_ranking(describer: Any, described: Any) -> None:
    other = describer.describe(noise())
    assert other.ranked != described.ranked
    assert other.prompts[0].endswith("--ar 1:1")


def test_nanke_describe_prints_four_numbered_prompts(tiny_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "sunset.png"
    sunset().save(path)
    result = CliRunner().invoke(cli, ["describe", str(path), "--models", str(tiny_models)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line[:2] in {"1.", "2.", "3.", "4."}]
    assert [line[:2] for line in lines] == ["1.", "2.", "3.", "4."]
    assert all(line.endswith("--ar 3:2") for line in lines)


def test_nanke_describe_refuses_what_is_not_an_image(tiny_models: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    result = CliRunner().invoke(cli, ["describe", str(path), "--models", str(tiny_models)])
    assert result.exit_code == 1
    assert "is not a readable image" in result.output and "Traceback" not in result.output


def test_nanke_describe_refuses_an_image_the_safety_checker_flags(
    tiny_models: Path, tmp_path: Path
) -> None:
    """As /describe: with a [safety_checker] that flags it, the image is not described."""
    import shutil

    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    tiny = tiny_models.parent / "tiny-safety-checker"
    flagging = tmp_path / "flagging-checker"
    model = StableDiffusionSafetyChecker.from_pretrained(tiny)
    model.concept_embeds_weights.data.fill_(-1.0)  # every image is over every threshold
    model.save_pretrained(flagging)
    shutil.copy(tiny / "preprocessor_config.json", flagging)
    text = tiny_models.read_text()
    assert 'source = "tiny-safety-checker"' in text
    toml = tiny_models.parent / f"models-flagging-{tmp_path.name}.toml"  # beside the models
    toml.write_text(text.replace('source = "tiny-safety-checker"', f'source = "{flagging}"'))
    path = tmp_path / "sunset.png"
    sunset().save(path)
    try:
        result = CliRunner().invoke(cli, ["describe", str(path), "--models", str(toml)])
    finally:
        toml.unlink()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "flagged by the configured safety checker" in result.output
    assert not any(line[:2] == "1." for line in result.output.splitlines())
