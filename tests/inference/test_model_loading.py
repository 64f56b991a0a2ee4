"""A models.toml entry that points at the wrong kind of checkpoint is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import ModelFileError
from inference.registry import load_registry


def test_an_unclip_model_as_the_base_model_is_a_clear_error(
    tiny_models: Path, tmp_path: Path
) -> None:
    from inference.worker.pipelines import PipelineCache

    toml = tmp_path / "models.toml"
    unclip = (tiny_models.parent / "tiny-unclip").as_posix()
    toml.write_text(
        f'[[models]]\nname = "oops"\nsource = "{unclip}"\nfamily = "sd15"\n'
        "default_steps = 2\nbase_size = 64\ndefault = true\n"
    )
    with pytest.raises(ModelFileError, match=r"'oops' .* is not a plain text-to-image"):
        PipelineCache(load_registry(toml)).model("oops")
