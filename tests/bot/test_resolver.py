"""The bot's follow-ups resolved by the engine's rules (models.toml registry, no torch)."""

from __future__ import annotations

import uuid

import pytest

from bot.services.ports import UserPrefs
from bot.services.resolver import RESOLVE_ERRORS, RegistryResolver
from inference.registry import ModelEntry, Registry
from pipeline.contracts import JobKind, UpscaleMode
from prompt import parse_prompt


@pytest.fixture
def resolver(tmp_path) -> RegistryResolver:
    (tmp_path / "ink.safetensors").write_bytes(b"")
    entry = ModelEntry("tiny", str(tmp_path), "dir", "sd15", 20, 512)
    xl = ModelEntry("big", str(tmp_path), "dir", "sdxl", 30, 1024)
    return RegistryResolver(Registry({"tiny": entry, "big": xl}, "tiny", lora_dir=tmp_path))


def test_member_defaults_fill_what_the_prompt_leaves_unset(resolver):
    prefs = UserPrefs(sampler="euler", aspect_ratio="16:9", model="big")
    spec = resolver.imagine(uuid.uuid4(), parse_prompt("a fox --lora ink")[0], prefs)
    gen = spec.generation
    assert (gen.model, gen.sampler, gen.steps) == ("big", "euler", 30)
    assert gen.width > gen.height
    explicit = resolver.imagine(uuid.uuid4(), parse_prompt("a fox --ar 1:1")[0], prefs)
    assert explicit.generation.width == explicit.generation.height


def test_follow_ups_start_from_the_parent_tile(resolver):
    parent = resolver.imagine(uuid.uuid4(), parse_prompt("a fox --seed 10")[0], UserPrefs())
    up = resolver.follow_up(
        uuid.uuid4(), parent, JobKind.UPSCALE, 3, "k/3.png", UpscaleMode.CREATIVE
    )
    assert up.generation.width == 2 * parent.generation.width and up.generation.seed == 12
    assert up.source is not None and up.source.key == "k/3.png"
    vary = resolver.follow_up(uuid.uuid4(), parent, JobKind.VARY_STRONG, 1, "k/1.png")
    assert vary.kind is JobKind.VARY_STRONG and vary.generation.batch == 4
    reroll = resolver.follow_up(uuid.uuid4(), parent, JobKind.REROLL, None, None)
    assert reroll.params == parent.params


def test_remix_replaces_the_prompt(resolver):
    parent = resolver.imagine(uuid.uuid4(), parse_prompt("a fox")[0], UserPrefs())
    remixed = resolver.follow_up(
        uuid.uuid4(),
        parent,
        JobKind.VARY_SUBTLE,
        2,
        "k/2.png",
        params=parse_prompt("a wolf --model big")[0],
    )
    assert remixed.params.prompt == "a wolf" and remixed.generation.model == "big"


@pytest.mark.parametrize("prompt", ["a fox --model nope", "a fox --lora missing"])
def test_unknown_models_and_loras_are_the_members_to_fix(resolver, prompt):
    with pytest.raises(RESOLVE_ERRORS):
        resolver.imagine(uuid.uuid4(), parse_prompt(prompt)[0], UserPrefs())
