"""Model families, torch-free: models.toml accepts them, and a request is fitted to the family
(CLIP features translated or refused with the family's name, flow samplers, CFG conventions)
before anything is charged."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import BadRequestError, RegistryError
from inference.families import FAMILIES
from inference.registry import ModelEntry, Registry, parse_registry
from inference.resolve import imagine_spec
from prompt.parser import parse_prompt

FAMILY_OF = {"sd": "sd15", "flux": "flux", "zimage": "zimage", "sd3": "sd3", "flux2": "flux2"}


def _registry() -> Registry:
    models = {
        name: ModelEntry(name, "/nowhere", "dir", family, 20, 64)
        for name, family in FAMILY_OF.items()
    }
    return Registry(models, "sd")


def spec(text: str):
    (params,) = parse_prompt(text)
    return imagine_spec(params, _registry())


@pytest.mark.parametrize("family", ["flux", "zimage", "sd3", "flux2"])
def test_models_toml_accepts_the_new_families_with_their_defaults(family: str) -> None:
    registry = parse_registry(
        {"models": [{"name": "m", "source": "owner/model", "family": family}]}, Path("/")
    )
    entry = registry.model("m")
    assert entry.family == family
    assert (entry.base_size, entry.default_steps) == (1024, FAMILIES[family].default_steps)


def test_a_single_file_dit_model_is_refused_by_name() -> None:
    table = {"name": "f", "source": "flux.safetensors", "family": "flux", "config": "a/b"}
    with pytest.raises(RegistryError, match="a flux model is a diffusers folder"):
        parse_registry({"models": [table]}, Path("/"))


def test_an_unknown_family_lists_the_known_ones() -> None:
    table = {"name": "m", "source": "a/b", "family": "sd4"}
    with pytest.raises(RegistryError, match="flux2"):
        parse_registry({"models": [table]}, Path("/"))


def test_stable_diffusion_keeps_every_clip_feature_without_notes() -> None:
    job = spec("a (red:1.3) fox BREAK snow --model sd --clip-skip 2 --sampler dpm++ 2m")
    assert job.generation.prompt == "a (red:1.3) fox BREAK snow"
    assert job.generation.sampler == "dpm++_2m_karras" and job.generation.clip_skip == 2
    assert job.notes == ()


@pytest.mark.parametrize("model", ["flux", "zimage", "sd3", "flux2"])
def test_weights_and_break_are_removed_with_a_note_never_encoded_as_text(model: str) -> None:
    job = spec(f"a (red:1.3) fox BREAK [snow] --model {model}")
    assert job.generation.prompt == "a red fox, snow"
    assert job.generation.parts[0].text == "a red fox, snow"
    assert len(job.notes) == 1 and "(word:1.3)" in job.notes[0] and model in job.notes[0]


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--clip-skip 2", "--clip-skip"),
        ("--tile", "--tile"),
        ("--rescale 0.7", "--rescale"),
    ],
)
def test_flags_that_do_not_apply_are_refused_naming_the_family(flag: str, named: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        spec(f"a fox {flag} --model sd3")
    assert named in caught.value.message and "family `sd3`" in caught.value.message


def test_multi_prompts_and_prompt_editing_are_refused_on_t5_families() -> None:
    with pytest.raises(BadRequestError, match=r"`::` multi-prompts.*family `flux`"):
        spec("a fox:: a cat::2 --model flux")
    with pytest.raises(BadRequestError, match=r"prompt editing.*family `flux2`"):
        spec("a [fox:cat:0.5] --model flux2")


def test_flow_models_run_flow_samplers_by_default_and_refuse_a1111_ones() -> None:
    assert spec("a fox --model flux").generation.sampler == "euler"
    assert spec("a fox --model sd3 --sampler dpm++ 2m").generation.sampler == "dpm++_2m"
    with pytest.raises(BadRequestError) as caught:
        spec("a fox --model sd3 --sampler heun")
    assert "family `sd3`" in caught.value.message and "FlowMatch Euler" in caught.value.message
    # Z-Image's pipeline sets its own sigmas, which only FlowMatch Euler takes.
    with pytest.raises(BadRequestError, match="use euler"):
        spec("a fox --model zimage --sampler unipc")


def test_cfg_and_negative_prompts_on_distilled_models_say_they_have_no_effect() -> None:
    job = spec("a fox --model zimage --cfg 7 --no blur")
    assert job.generation.cfg == 1.0 and job.generation.negative_prompt == ""
    assert any("--cfg has no effect on `zimage`" in n for n in job.notes)
    assert any("negative prompt (--no) has no effect on `zimage`" in n for n in job.notes)


def test_sd3_keeps_real_cfg_and_the_negative_prompt_with_its_own_default() -> None:
    assert spec("a fox --model sd3").generation.cfg == 4.5
    job = spec("a fox --model sd3 --cfg 6 --no blur")
    assert (job.generation.cfg, job.generation.negative_prompt, job.notes) == (6.0, "blur", ())


def test_flux_cfg_is_its_distilled_guidance() -> None:
    assert spec("a fox --model flux").generation.cfg == 3.5
    assert spec("a fox --model flux --cfg 2").generation.cfg == 2.0


def test_memory_keys_parse_for_dit_models_and_are_refused_elsewhere() -> None:
    table = {
        "name": "f",
        "source": "a/b",
        "family": "flux",
        "quantize": "fp8",
        "quantize_text_encoders": True,
        "cpu_offload": True,
        "cache": "taylorseer",
    }
    memory = parse_registry({"models": [table]}, Path("/")).model("f").memory
    assert (memory.quantize, memory.quantize_text_encoders) == ("fp8", True)
    assert (memory.cpu_offload, memory.cache) == (True, "taylorseer")
    gguf = {"name": "g", "source": "a/b", "family": "zimage", "transformer_file": "z.gguf"}
    assert parse_registry({"models": [gguf]}, Path("/m")).model("g").memory.transformer_file == (
        "/m/z.gguf"
    )
    for bad, message in [
        ({"family": "sdxl", "quantize": "int8"}, "are for the DiT families"),
        ({"family": "flux", "quantize": "int3"}, "`quantize` must be one of int8, fp8, nf4"),
        ({"family": "flux", "cache": "deep"}, "`cache` must be one of first_block, taylorseer"),
        ({"family": "flux", "transformer_file": "t.safetensors"}, "must be a .gguf file"),
        ({"family": "flux", "cpu_offload": "yes"}, "`cpu_offload` must be true or false"),
        ({"family": "sd3", "cache": "first_block"}, "sd3 family's transformer has no cache"),
        ({"family": "zimage", "cache_threshold": 0.1}, "zimage family's transformer has no"),
    ]:
        with pytest.raises(RegistryError, match=message):
            parse_registry({"models": [{"name": "m", "source": "a/b", **bad}]}, Path("/"))


def test_saved_clip_features_do_not_follow_a_member_onto_a_t5_family() -> None:
    from inference.resolve import UserDefaults

    (params,) = parse_prompt("a fox --model sd3")
    saved = UserDefaults(clip_skip=2, sampler="dpm++_2m_karras", cfg=7.0)
    job = imagine_spec(params, _registry(), saved)
    assert job.generation.clip_skip is None
    assert (job.generation.sampler, job.generation.cfg) == ("euler", 4.5)


@pytest.mark.parametrize("model", ["sd", "sd3", "zimage"])
def test_fast_is_refused_where_the_model_has_no_cache_hooks(model: str) -> None:
    """UNets, and the SD3 and Z-Image transformers (no enable_cache in diffusers 0.42): a
    refusal before any charge, not a worker traceback."""
    with pytest.raises(BadRequestError) as caught:
        spec(f"a fox --model {model} --fast")
    message = caught.value.message
    assert "--fast" in message and f"family `{FAMILY_OF[model]}`" in message
    assert "no cache accelerator" in message


def test_fast_is_kept_on_flux_and_flux2() -> None:
    assert spec("a fox --model flux2 --fast").generation.fast
    assert spec("a fox --model flux --fast").generation.fast
    assert not spec("a fox --model flux").generation.fast
    # A job without --fast serialises as before the flag existed.
    assert "fast" not in spec("a fox --model flux").generation.model_dump()


@pytest.mark.parametrize("model", ["flux", "zimage", "sd3", "flux2"])
def test_chaos_now_runs_on_the_dit_families(model: str) -> None:
    job = spec(f"a fox --model {model} --chaos 40")
    assert job.generation.chaos == 40 and job.notes == ()
