"""`nanke models list` shows each model's family and licence; `nanke models pull` knows the
curated DiT models and tells a downloaded pipeline's family (nothing is downloaded here)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nanke.cli import cli
from nanke.models_pull import family_of, resolve


def test_models_list_shows_families_and_licences(tmp_path: Path) -> None:
    toml = tmp_path / "models.toml"
    toml.write_text(
        '[[models]]\nname = "zt"\nsource = "Tongyi-MAI/Z-Image-Turbo"\nfamily = "zimage"\n\n'
        '[[models]]\nname = "dev"\nsource = "black-forest-labs/FLUX.1-dev"\nfamily = "flux"\n'
    )
    result = CliRunner().invoke(cli, ["models", "list", "--models", str(toml)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    zt = lines.index(next(line for line in lines if line.strip().startswith("zt (default)")))
    assert "family zimage" in lines[zt] and "Apache-2.0" in lines[zt + 1]
    assert "Non-Commercial" in result.output
    # The curated list: FLUX.1 dev is non-commercial, FLUX.2 [klein] 4B Apache-2.0.
    klein = next(i for i, line in enumerate(lines) if line.strip().startswith("flux2-klein"))
    assert "black-forest-labs/FLUX.2-klein-4B" in lines[klein]
    assert lines[klein + 1].strip() == "licence: Apache-2.0"


def test_models_list_with_a_broken_models_toml_is_one_line(tmp_path: Path) -> None:
    toml = tmp_path / "models.toml"
    toml.write_text('[[models]]\nname = "x"\nsource = "a/b"\nfamily = "sd4"\n')
    result = CliRunner().invoke(cli, ["models", "list", "--models", str(toml)])
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and "Traceback" not in result.output


def test_pull_knows_the_curated_families_and_reads_a_pipeline_class(tmp_path: Path) -> None:
    assert resolve("zimage-turbo", None, None)[1].family == "zimage"
    assert resolve("sd35-medium", None, None)[1].hub_id == "stabilityai/stable-diffusion-3.5-medium"
    for pipeline, family in [("Flux2KleinPipeline", "flux2"), ("FluxPipeline", "flux")]:
        (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
        assert family_of(tmp_path) == family
