"""SDXL's base + refiner cascade (models.toml `refiner`) and a v-prediction SDXL model, end to
end on tiny random SDXL pipelines built here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.errors import RegistryError
from inference.infotext import parse_infotext
from inference.registry import load_registry, parse_registry
from inference.resolve import imagine_spec, upscale_spec, vary_spec
from pipeline.contracts import UpscaleMode
from prompt.parser import parse_prompt

_ENTRY = """
[[models]]
name = "{name}"
source = "{source}"
family = "sdxl"
default_steps = 5
base_size = 64
{extra}
"""


@pytest.fixture(scope="module")
def xl_engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import torch

    from inference.tiny import build_sdxl
    from inference.tiny_refiner import build_sdxl_refiner
    from inference.worker.engine import Engine

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("xl")
    torch.manual_seed(0)
    base = build_sdxl(folder / "tiny-sdxl")
    build_sdxl_refiner(folder / "tiny-refiner", base)
    (folder / "models.toml").write_text(
        _ENTRY.format(name="base", source="tiny-sdxl", extra="")
        + _ENTRY.format(
            name="refined",
            source="tiny-sdxl",
            extra='refiner = "tiny-refiner"\nrefiner_switch = 0.5',
        )
        + _ENTRY.format(
            name="vpred",
            source="tiny-sdxl",
            extra='prediction_type = "v_prediction"\nzero_terminal_snr = true\ncfg_rescale = 0.7',
        )
    )
    return Engine(load_registry(folder / "models.toml"), device="cpu", max_models=3)


def _run(engine: Any, text: str) -> tuple[Any, Any]:
    (params,) = parse_prompt(text)
    spec = imagine_spec(params, engine.registry)
    return spec, engine.run(spec)


def _pixels(out: Any) -> np.ndarray:
    return np.stack([np.asarray(i, dtype=np.int16) for i in out.images])


def test_the_refiner_finishes_the_base_and_the_png_says_so(xl_engine: Any) -> None:
    _, base = _run(xl_engine, "a red fox --model base --seed 4 --sampler euler")
    spec, refined = _run(xl_engine, "a red fox --model refined --seed 4 --sampler euler")
    assert np.abs(_pixels(base) - _pixels(refined)).mean() > 0.5  # the refiner painted
    _, again = _run(xl_engine, "a red fox --model refined --seed 4 --sampler euler")
    assert np.array_equal(_pixels(refined), _pixels(again))  # and the same seed repeats
    params = parse_infotext(refined.infotexts[0]).params
    assert (params["Refiner"], params["Refiner switch at"]) == ("tiny-refiner", "0.5")
    assert "Refiner" not in parse_infotext(base.infotexts[0]).params
    assert refined.steps_run == 5  # the base's steps above t = 500, then the refiner's

    vary = xl_engine.run(vary_spec(spec, 1, False, "k", seed=50), refined.images[0])
    assert parse_infotext(vary.infotexts[0]).params["Refiner"] == "tiny-refiner"
    up = xl_engine.run(upscale_spec(spec, 1, UpscaleMode.SUBTLE, "k"), refined.images[0])
    assert "Refiner" not in parse_infotext(up.infotexts[0]).params  # U: the base alone


def test_the_refiner_reads_weighted_prompts_and_the_default_sampler(xl_engine: Any) -> None:
    _, plain = _run(xl_engine, "a red fox --model refined --seed 9")
    _, weighted = _run(xl_engine, "a (red:1.6) fox --model refined --seed 9")
    assert np.abs(_pixels(plain) - _pixels(weighted)).mean() > 0.1
    assert parse_infotext(plain.infotexts[0]).params["Sampler"] == "DPM++ 2M"
    # The guided UNet paths (AND, dynamic thresholding) wrap the refiner's UNet too.
    for flags in ("a red fox AND a cat", "a red fox --dynthres 90"):
        _, out = _run(xl_engine, f"{flags} --model refined --seed 9")
        assert parse_infotext(out.infotexts[0]).params["Refiner"] == "tiny-refiner"


def test_a_v_prediction_sdxl_model_runs_end_to_end(xl_engine: Any) -> None:
    _, eps = _run(xl_engine, "a fox --model base --seed 2 --sampler euler")
    spec, vpred = _run(xl_engine, "a fox --model vpred --seed 2 --sampler euler")
    config = xl_engine.pipelines.model("vpred").base.scheduler.config
    assert config.prediction_type == "v_prediction" and config.rescale_betas_zero_snr
    assert spec.generation.rescale == 0.7
    assert parse_infotext(vpred.infotexts[0]).params["CFG Rescale"] == "0.7"
    assert np.abs(_pixels(eps) - _pixels(vpred)).mean() > 0.5
    _, again = _run(xl_engine, "a fox --model vpred --seed 2 --sampler euler")
    assert np.array_equal(_pixels(vpred), _pixels(again))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"family": "sd15", "refiner": "r"}, "`refiner` is for sdxl models"),
        ({"family": "flux", "refiner": "r"}, "`refiner` is for sdxl models"),
        ({"family": "sdxl", "refiner_switch": 0.8}, "`refiner_switch` needs `refiner`"),
        ({"family": "sdxl", "refiner": "r", "refiner_switch": 0.3}, "from 0.5 to 0.95"),
        ({"family": "sdxl", "refiner": "r.safetensors"}, "diffusers folder or hub id"),
    ],
)
def test_a_misplaced_or_bad_refiner_is_one_line_at_load(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(RegistryError, match=message) as caught:
        parse_registry({"models": [{"name": "m", "source": "a/b", **extra}]}, Path("/"))
    assert "\n" not in str(caught.value)


def test_a_refiner_entry_parses_its_switch() -> None:
    table = {
        "name": "m",
        "source": "a/b",
        "family": "sdxl",
        "refiner": "o/r",
        "refiner_switch": 0.7,
    }
    refiner = parse_registry({"models": [table]}, Path("/")).model("m").refiner
    assert refiner is not None and (refiner.source, refiner.switch) == ("o/r", 0.7)


@pytest.mark.parametrize("sampler", ["euler --schedule exponential", "heun --schedule karras"])
def test_a_native_sampler_goes_on_from_the_switch_not_from_the_start(
    xl_engine: Any, sampler: str
) -> None:
    _, out = _run(xl_engine, f"a fox --model refined --seed 1 --sampler {sampler}")
    scheduler = xl_engine.pipelines.model("refined").derived["refiner"].scheduler
    # The refiner's evaluations are the tail of the same σ plan the base began: it ends on
    # the plan's last σ (restarting from σ_max it would stop part-way down the plan).
    assert scheduler.sigma == scheduler.plan[-1] and out.steps_run == len(scheduler.plan)
