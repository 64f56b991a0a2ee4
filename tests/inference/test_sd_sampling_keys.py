"""models.toml keys for Stable Diffusion finetunes: v-prediction with zero-terminal-SNR betas
and a default CFG rescale (NoobAI-XL v-pred and kin), `trailing` timesteps and a default CFG
for Lightning/Hyper/Turbo/DMD2 merges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.errors import RegistryError
from inference.infotext import parse_infotext
from inference.registry import load_registry, parse_registry
from inference.resolve import imagine_spec
from prompt.parser import parse_prompt

_ENTRY = """
[[models]]
name = "{name}"
source = "{source}"
family = "sd15"
default_steps = 4
base_size = 64
{extra}
"""


@pytest.fixture(scope="module")
def keyed_engine(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from inference.worker.engine import Engine

    source = tiny_models.parent / "tiny-sd15"
    toml = tmp_path_factory.mktemp("keys") / "models.toml"
    toml.write_text(
        _ENTRY.format(name="plain", source=source, extra="")
        + _ENTRY.format(
            name="vpred",
            source=source,
            extra='prediction_type = "v_prediction"\nzero_terminal_snr = true\ncfg_rescale = 0.7',
        )
        + _ENTRY.format(
            name="lightning",
            source=source,
            extra='timestep_spacing = "trailing"\ndefault_cfg = 1.5',
        )
    )
    return Engine(load_registry(toml), device="cpu", max_models=3)


def _run(engine: Any, text: str) -> tuple[Any, Any]:
    (params,) = parse_prompt(text)
    spec = imagine_spec(params, engine.registry)
    return spec, engine.run(spec)


def test_a_v_prediction_model_runs_v_prediction_on_zero_snr_betas(keyed_engine: Any) -> None:
    _, plain = _run(keyed_engine, "a fox --model plain --seed 2 --sampler euler")
    spec, vpred = _run(keyed_engine, "a fox --model vpred --seed 2 --sampler euler")
    config = keyed_engine.pipelines.model("vpred").base.scheduler.config
    assert config.prediction_type == "v_prediction" and config.rescale_betas_zero_snr
    assert spec.generation.rescale == 0.7
    assert parse_infotext(vpred.infotexts[0]).params["CFG Rescale"] == "0.7"
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(vpred.images[0]))
    # The member's own --rescale still wins over the model's default.
    assert _run(keyed_engine, "a fox --model vpred --rescale 0.2")[0].generation.rescale == 0.2


def test_trailing_spacing_starts_at_the_last_timestep_whatever_the_sampler(
    keyed_engine: Any,
) -> None:
    spec, _ = _run(keyed_engine, "a fox --model lightning --seed 1 --sampler dpm++ 2m")
    scheduler = keyed_engine.pipelines.model("lightning").base.scheduler
    assert scheduler.config.timestep_spacing == "trailing"
    assert int(scheduler.timesteps[0]) == 999
    assert spec.generation.cfg == 1.5
    _run(keyed_engine, "a fox --model plain --seed 1 --sampler dpm++ 2m")
    plain = keyed_engine.pipelines.model("plain").base.scheduler
    assert plain.config.timestep_spacing == "linspace"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"prediction_type": "x0"}, "`prediction_type` must be one of epsilon, v_prediction"),
        ({"timestep_spacing": "even"}, "`timestep_spacing` must be one of"),
        ({"cfg_rescale": 2}, "`cfg_rescale` must be a number from 0 to 1"),
        ({"zero_terminal_snr": "yes"}, "`zero_terminal_snr` must be true or false"),
    ],
)
def test_a_bad_sampling_key_is_one_line_naming_it(extra: dict[str, Any], message: str) -> None:
    table = {"name": "m", "source": "a/b", "family": "sdxl", **extra}
    with pytest.raises(RegistryError, match=message):
        parse_registry({"models": [table]}, Path("/"))


def test_sampling_keys_are_refused_on_flow_families() -> None:
    table = {"name": "m", "source": "a/b", "family": "flux", "prediction_type": "v_prediction"}
    with pytest.raises(RegistryError, match="are for sd15, sd2 and sdxl"):
        parse_registry({"models": [table]}, Path("/"))
