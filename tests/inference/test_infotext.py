from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.infotext import build_infotext, parse_infotext
from inference.png import encode_png, read_parameters
from inference.samplers import SAMPLERS
from prompt.request import Generation, LoraRef, PromptPart


def _gen(**kw: object) -> Generation:
    base: dict[str, object] = {
        "model": "sd15",
        "prompt": "a red fox, (snow:1.2), at dusk",
        "parts": (PromptPart(text="a red fox"),),
        "negative_prompt": "blurry, text",
        "width": 640,
        "height": 448,
        "steps": 30,
        "cfg": 7.5,
        "sampler": "dpm++_2m_karras",
        "seed": 1234,
    }
    base.update(kw)
    return Generation.model_validate(base)


def test_round_trip_through_an_a1111_style_parser() -> None:
    gen = _gen(clip_skip=2, loras=(LoraRef(name="ink", weight=0.7), LoraRef(name="glow")))
    text = build_infotext(gen, seed=1236, denoising_strength=0.3)
    lines = text.split("\n")
    assert lines[0] == "a red fox, (snow:1.2), at dusk <lora:ink:0.7> <lora:glow:1>"
    assert lines[1] == "Negative prompt: blurry, text"
    assert lines[2].startswith(
        "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1236"
    )
    parsed = parse_infotext(text)
    assert parsed.prompt == gen.prompt
    assert parsed.negative_prompt == gen.negative_prompt
    assert parsed.loras == list(gen.loras)
    assert parsed.sampler_name == "dpm++_2m_karras"
    assert parsed.size == (640, 448)
    assert parsed.params["Seed"] == "1236" and parsed.params["CFG scale"] == "7.5"
    assert parsed.params["Model"] == "sd15" and parsed.params["Clip skip"] == "2"
    assert parsed.params["Denoising strength"] == "0.3"


def test_every_sampler_label_round_trips() -> None:
    for name in SAMPLERS:
        text = build_infotext(_gen(sampler=name))
        assert "Schedule type: " in text
        assert parse_infotext(text).sampler_name == name


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        # A1111 < 1.9 wrote the schedule into the sampler's name.
        ("Sampler: DPM++ 2M Karras", "dpm++_2m_karras"),
        ("Sampler: DPM++ 2M SDE Karras", "dpm++_2m_sde_karras"),
        # A1111 ≥ 1.9: Sampler + Schedule type; without one, the sampler's Automatic.
        ("Sampler: DPM++ 2M, Schedule type: Karras", "dpm++_2m_karras"),
        ("Sampler: DPM++ 2M, Schedule type: Uniform", "dpm++_2m"),
        ("Sampler: DPM++ 2M, Schedule type: Automatic", "dpm++_2m_karras"),
        ("Sampler: DPM++ 2M SDE, Schedule type: Automatic", "dpm++_2m_sde_exponential"),
        ("Sampler: DPM++ 2M", "dpm++_2m_karras"),
        ("Sampler: Euler, Schedule type: Automatic", "euler"),
        ("Sampler: DDIM, Schedule type: Automatic", "ddim"),
        # The native samplers and every A1111 schedule type.
        ("Sampler: Restart, Schedule type: Karras", "restart_karras"),
        ("Sampler: Restart", "restart_karras"),
        ("Sampler: Euler, Schedule type: Align Your Steps", "euler_align_your_steps"),
        ("Sampler: DPM++ 3M SDE", "dpm++_3m_sde_exponential"),
        ("Sampler: DPM++ 3M SDE Karras", "dpm++_3m_sde_karras"),
        ("Sampler: DPM++ 2M SDE Heun, Schedule type: Beta", "dpm++_2m_sde_heun_beta"),
        ("Sampler: DPM++ 2M, Schedule type: SGM Uniform", "dpm++_2m_sgm_uniform"),
        ("Sampler: DPM2 a, Schedule type: KL Optimal", "dpm2_a_kl_optimal"),
        ("Sampler: DPM fast, Schedule type: Automatic", "dpm_fast"),
        ("Sampler: DDIM CFG++, Schedule type: Automatic", "ddim_cfgpp"),
        # Samplers and schedules Nanke does not run.
        ("Sampler: DPM adaptive, Schedule type: Automatic", None),
        ("Sampler: LMS, Schedule type: Beta", None),
    ],
)
def test_reads_a1111_sampler_and_schedule_type(fields: str, name: str | None) -> None:
    text = f"a cat\nSteps: 20, {fields}, CFG scale: 7, Seed: 1, Size: 512x512"
    assert parse_infotext(text).sampler_name == name


def test_quotes_multiline_prompts_and_no_negative() -> None:
    gen = _gen(prompt="line one\nline two", negative_prompt="", model='my, "odd" model', tile=True)
    parsed = parse_infotext(build_infotext(gen, extra={"Note": "a: b"}))
    assert parsed.prompt == "line one\nline two" and parsed.negative_prompt == ""
    assert parsed.params["Model"] == 'my, "odd" model'
    assert parsed.params["Note"] == "a: b" and parsed.params["Tiling"] == "True"


def test_parses_text_written_by_a1111() -> None:
    text = (
        "masterpiece, 1girl <lora:foo:0.8>\nNegative prompt: lowres\n"
        "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 3, "
        'Size: 512x768, Model hash: abc, Model: any, Lora hashes: "foo: 123, bar: 456", '
        "Version: v1.10.1"
    )
    parsed = parse_infotext(text)
    assert parsed.prompt == "masterpiece, 1girl" and parsed.loras == [
        LoraRef(name="foo", weight=0.8)
    ]
    assert parsed.sampler_name == "euler_a" and parsed.size == (512, 768)
    assert parsed.params["Lora hashes"] == "foo: 123, bar: 456"


def test_png_carries_the_parameters_chunk() -> None:
    from PIL import Image

    text = build_infotext(_gen())
    data = encode_png(Image.new("RGB", (8, 8), "red"), text)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_parameters(data) == text


def test_lora_tags_with_separate_unet_weights_round_trip() -> None:
    gen = _gen().model_copy(
        update={"loras": (LoraRef(name="my style", weight=0.8, unet_weight=0.5), LoraRef(name="b"))}
    )
    text = build_infotext(gen)
    assert "<lora:my style:0.8:0.5> <lora:b:1>" in text
    assert tuple(parse_infotext(text).loras) == gen.loras


def test_real_world_lora_tags_never_raise() -> None:
    text = "a cat <lora:my lora:0.8> <lora:strong:2.5> <lora:ok:0.5> <lora:x:1.2.3>\nSteps: 20"
    parsed = parse_infotext(text + ", Sampler: Euler, Seed: 1, Odd key: [1, 2]")
    # A name with spaces is a file stem like any other (issue 16 item 6).
    assert [(x.name, x.weight) for x in parsed.loras] == [("my lora", 0.8), ("ok", 0.5)]
    assert parsed.unusable_loras == ["<lora:strong:2.5>", "<lora:x:1.2.3>"]
    assert parsed.prompt == "a cat"


_PIECES = [
    "a",
    " ",
    ":",
    ",",
    '"',
    "\\",
    "\n",
    "<lora:",
    ">",
    "Negative prompt: ",
    "Steps: ",
    "Sampler: ",
    "Schedule type: ",
    "Size: ",
    "x",
    "1",
    ".",
    "-",
    "9",
    "é",
    "\x00",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60).map("".join))
def test_parse_infotext_never_raises(text: str) -> None:
    parsed = parse_infotext(text)
    assert isinstance(parsed.prompt, str)
    _ = (parsed.sampler_name, parsed.size)


def test_multi_prompts_are_written_as_a1111_and_with_their_shares() -> None:
    """A1111 reads `::` parts as AND subprompts; the weights are each part's share."""
    parts = (PromptPart(text="a red fox", weight=1.0), PromptPart(text="a castle", weight=3.0))
    text = build_infotext(_gen(prompt="a red fox::a castle::3", parts=parts))
    prompt = parse_infotext(text).prompt
    assert prompt == "a red fox :0.25 AND a castle :0.75"
    # A1111's own reading (prompt_parser.get_multicond_prompt_list): split at AND, weight
    # from the trailing ":number".
    import re

    weight = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")
    subs = [weight.search(sub) for sub in re.split(r"\bAND\b", prompt)]
    read = [(m[1].strip(), float(m[2])) for m in subs if m is not None]
    assert read == [("a red fox", 0.25), ("a castle", 0.75)]
