"""Sampler names members type → the canonical name the worker knows."""

from __future__ import annotations

import pytest

from prompt import SAMPLERS, PromptError, canonical_sampler, format_prompt, parse_prompt
from prompt.samplers import sampler_words, schedule_of


def test_canonical_names_in_the_issues_order() -> None:
    assert SAMPLERS[:24] == (
        "euler", "euler_a", "heun", "lms", "lms_karras", "ddim", "pndm", "dpm2", "dpm2_karras",
        "dpm2_a", "dpm2_a_karras", "dpm++_2m", "dpm++_2m_karras", "dpm++_2m_sde",
        "dpm++_2m_sde_karras", "dpm++_sde", "dpm++_sde_karras", "dpm++_2s_a",
        "dpm++_2s_a_karras", "unipc", "lcm", "dpm++_2m_exponential", "dpm++_2m_sde_exponential",
        "dpm++_sde_exponential",
    )  # fmt: skip
    # Then the native k-diffusion samplers (inference/worker/ksamplers.py), every schedule.
    assert "dpm++_3m_sde_exponential" in SAMPLERS and "restart_karras" in SAMPLERS
    assert "euler_align_your_steps" in SAMPLERS and "dpm++_2m_sde_heun_beta" in SAMPLERS
    assert "lms_beta" not in SAMPLERS and "ddim_karras" not in SAMPLERS
    assert len(SAMPLERS) == len(set(SAMPLERS))


@pytest.mark.parametrize("name", SAMPLERS)
def test_canonical_names_map_to_themselves_with_their_schedule(name: str) -> None:
    assert canonical_sampler(name, schedule_of(name)) == name
    assert canonical_sampler(name.upper(), schedule_of(name)) == name
    # format_prompt's words give the name back.
    (params,) = parse_prompt(" ".join(["a cat", *sampler_words(name)]))
    assert params.sampler == name


def test_a1111_19_schedule_types() -> None:
    """A1111 ≥ 1.9: a sampler without a schedule runs its "Automatic" one."""
    assert canonical_sampler("DPM++ 2M") == "dpm++_2m_karras"
    assert canonical_sampler("DPM++ 2M", "uniform") == "dpm++_2m"
    assert canonical_sampler("DPM++ 2M SDE") == "dpm++_2m_sde_exponential"
    assert canonical_sampler("Euler") == "euler" and canonical_sampler("DDIM") == "ddim"
    (params,) = parse_prompt("a cat --sampler DPM++ 2M --schedule Uniform")
    assert params.sampler == "dpm++_2m" and "--schedule uniform" in format_prompt(params)
    (params,) = parse_prompt("a cat --sampler DPM++ SDE --schedule exponential")
    assert params.sampler == "dpm++_sde_exponential"
    (params,) = parse_prompt("a cat --sampler dpm++ 2m karras --schedule automatic")
    assert params.sampler == "dpm++_2m_karras"
    for text, message in [
        ("a --schedule karras", "--schedule goes with --sampler"),
        ("a --sampler ddim --schedule karras", "ddim runs on its own timesteps"),
        ("a --sampler DPM fast --schedule karras", "dpm_fast runs on its own timesteps"),
        ("a --sampler DDIM CFG++ --schedule karras", "ddim_cfgpp runs on its own timesteps"),
        ("a --sampler lms --schedule beta", "lms has no beta schedule in Nanke"),
        ("a --sampler euler --schedule fast", "unknown schedule 'fast'"),
        ("a --sampler dpm++ 2m karras --schedule uniform", "already names the karras schedule"),
    ]:
        with pytest.raises(PromptError, match=message) as caught:
            parse_prompt(text)
        assert caught.value.flag == "--schedule"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("--sampler euler --schedule karras", "euler_karras"),
        ("--sampler euler --schedule Align Your Steps", "euler_align_your_steps"),
        ("--sampler DPM++ 2M --schedule SGM Uniform", "dpm++_2m_sgm_uniform"),
        ("--sampler DPM++ 2M SDE --schedule kl optimal", "dpm++_2m_sde_kl_optimal"),
        ("--sampler Euler a --schedule Polyexponential", "euler_a_polyexponential"),
        ("--sampler heun --schedule Simple", "heun_simple"),
        ("--sampler dpm2 --schedule normal", "dpm2_normal"),
        ("--sampler DPM++ 2S a --schedule DDIM", "dpm++_2s_a_ddim"),
        ("--sampler DPM++ SDE --schedule beta", "dpm++_sde_beta"),
        # The new samplers and their A1111 "Automatic" schedules.
        ("--sampler DPM++ 3M SDE", "dpm++_3m_sde_exponential"),
        ("--sampler DPM++ 2M SDE Heun", "dpm++_2m_sde_heun_exponential"),
        ("--sampler Restart", "restart_karras"),
        ("--sampler restart --schedule uniform", "restart"),
        ("--sampler k_dpmpp_3m_sde --schedule karras", "dpm++_3m_sde_karras"),
        ("--sampler DPM fast", "dpm_fast"),
        ("--sampler k_dpm_fast --schedule automatic", "dpm_fast"),
        ("--sampler DDIM CFG++", "ddim_cfgpp"),
        ('--sampler "ddim_cfgpp"', "ddim_cfgpp"),
    ],
)
def test_every_a1111_schedule_type(text: str, name: str) -> None:
    (params,) = parse_prompt("a cat " + text)
    assert params.sampler == name
    (again,) = parse_prompt(format_prompt(params))
    assert again.sampler == name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        # A1111 display names
        ("Euler", "euler"),
        ("Euler a", "euler_a"),
        ("Heun", "heun"),
        ("LMS", "lms"),
        ("LMS Karras", "lms_karras"),
        ("DDIM", "ddim"),
        ("PLMS", "pndm"),
        ("DPM2", "dpm2_karras"),
        ("DPM2 Karras", "dpm2_karras"),
        ("DPM2 a", "dpm2_a_karras"),
        ("DPM2 a Karras", "dpm2_a_karras"),
        ("DPM++ 2M", "dpm++_2m_karras"),
        ("DPM++ 2M Karras", "dpm++_2m_karras"),
        ("DPM++ 2M SDE", "dpm++_2m_sde_exponential"),
        ("DPM++ 2M SDE Karras", "dpm++_2m_sde_karras"),
        ("DPM++ SDE", "dpm++_sde_karras"),
        ("DPM++ SDE Karras", "dpm++_sde_karras"),
        ("DPM++ 2S a", "dpm++_2s_a_karras"),
        ("DPM++ 2S a Karras", "dpm++_2s_a_karras"),
        ("UniPC", "unipc"),
        ("LCM", "lcm"),
        # k-diffusion names
        ("k_euler", "euler"),
        ("k_euler_a", "euler_a"),
        ("k_euler_ancestral", "euler_a"),
        ("k_heun", "heun"),
        ("k_lms", "lms"),
        ("k_dpm_2", "dpm2_karras"),
        ("k_dpm_2_a", "dpm2_a_karras"),
        ("k_dpm_2_ancestral", "dpm2_a_karras"),
        ("k_dpmpp_2m", "dpm++_2m_karras"),
        ("k_dpmpp_2s_ancestral", "dpm++_2s_a_karras"),
        ("k_dpmpp_sde", "dpm++_sde_karras"),
        # dpmpp for dpm++, any case, separators interchangeable
        ("dpmpp_2m_karras", "dpm++_2m_karras"),
        ("DPMPP-2M-SDE-Karras", "dpm++_2m_sde_karras"),
        ("dpm++ 2m karras", "dpm++_2m_karras"),
        ("dpm++-2m_karras", "dpm++_2m_karras"),
        ("dpm++2m", "dpm++_2m_karras"),
        ("euler-a", "euler_a"),
        ("EULER_A", "euler_a"),
        ("  euler   a  ", "euler_a"),
        ("uni_pc", "unipc"),
        ("uni-pc", "unipc"),
    ],
)
def test_aliases(alias: str, canonical: str) -> None:
    assert canonical_sampler(alias) == canonical


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("eular a", "euler_a"),
        ("dpm++ 2m karas", "dpm++_2m_karras"),
        ("heunn", "heun"),
        ("ddpm", "ddim"),
    ],
)
def test_unknown_sampler_lists_the_closest(name: str, closest: str) -> None:
    with pytest.raises(PromptError) as caught:
        canonical_sampler(name)
    assert caught.value.flag == "--sampler"
    assert "closest:" in caught.value.message
    assert closest in caught.value.message


def test_the_language_and_the_engine_know_the_same_samplers() -> None:
    """The prompt language's names (what members type) and the engine's table (what runs) are
    two lists: every name the parser accepts must run, and every sampler that runs is nameable."""
    from inference.samplers import SAMPLERS as ENGINE_SAMPLERS
    from prompt.samplers import SAMPLERS as LANGUAGE_SAMPLERS

    assert tuple(ENGINE_SAMPLERS) == LANGUAGE_SAMPLERS
