from __future__ import annotations

from bot.services.catalog import MAX_CHOICES, Catalog
from prompt import SAMPLERS


def _catalog(tmp_path, names):
    for name in names:
        (tmp_path / f"{name}.safetensors").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a LoRA")
    return Catalog(samplers=SAMPLERS, models=lambda: ("sd15", "sdxl"), lora_dir=tmp_path)


def test_a_folder_of_hundreds_of_loras_answers_with_at_most_25_prefix_first(tmp_path):
    names = [f"style_{i:03d}" for i in range(300)] + ["anime_style", "notes", "anime style"]
    catalog = _catalog(tmp_path, names)
    values = [c.value for c in catalog.suggest("a cat --lora style_1")]
    assert len(values) == MAX_CHOICES
    assert values[0] == "a cat --lora style_100"
    both = [c.value for c in catalog.suggest("a cat --lora anime")]
    assert both == ["a cat --lora anime_style"]
    assert [c.value for c in catalog.suggest("a cat --lora sty")][:1] == ["a cat --lora style_000"]


def test_only_the_last_flag_is_completed_and_weights_are_ignored_while_typing(tmp_path):
    catalog = _catalog(tmp_path, ["watercolor"])
    assert [c.value for c in catalog.suggest("x --ar 16:9 --lora water:0.")] == [
        "x --ar 16:9 --lora watercolor"
    ]


def test_completions_longer_than_discord_allows_are_not_offered(tmp_path):
    catalog = _catalog(tmp_path, [])
    long_prompt = "a " * 60 + "--sampler eu"
    assert catalog.suggest(long_prompt) == []
    assert [c.value for c in catalog.suggest("short")] == ["short"]
