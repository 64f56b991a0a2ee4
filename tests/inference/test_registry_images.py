"""models.toml's [controlnet.<family>], [preprocessors] and [describe] sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import RegistryError
from inference.registry import Registry, load_registry

BASE = """
[[models]]
name = "sd15"
source = "stable-diffusion-v1-5/stable-diffusion-v1-5"
family = "sd15"
"""


def _load(tmp_path: Path, extra: str) -> Registry:
    path = tmp_path / "models.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_registry(path)


def test_sections_are_read_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "cn").mkdir()
    registry = _load(
        tmp_path,
        """
[controlnet.sd15]
canny = "cn"
depth = "lllyasviel/control_v11f1p_sd15_depth"
[preprocessors]
lineart = "annotators/lineart.safetensors"
depth = "Intel/dpt-hybrid-midas"
[describe]
captioner = "Salesforce/blip-image-captioning-base"
clip = "openai/clip-vit-large-patch14"
vocab_dir = "vocab"
""",
    )
    canny = registry.controlnets["sd15"]["canny"]
    assert (canny.source, canny.kind) == (str(tmp_path / "cn"), "dir")
    assert registry.controlnets["sd15"]["depth"].kind == "hub"
    lineart = registry.preprocessors["lineart"]
    assert lineart.source == str(tmp_path / "annotators" / "lineart.safetensors")
    describe = registry.describe
    assert describe.clip.source == "openai/clip-vit-large-patch14"
    assert describe.vocab_dir == tmp_path / "vocab"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("[controlnet.flux]\ncanny = 'x/y'", "the family must be one of"),
        ("[controlnet.sd15]\nscribble = 'x/y'", "unknown modules ['scribble']"),
        ("[controlnet.sd15]\ncanny = 'cn.safetensors'", "a ControlNet must be a diffusers folder"),
        ("[controlnet.sd15]\ncanny = 'cn.pth'", "pickle checkpoint"),
        ("[preprocessors]\ncanny = 'x/y'", "canny needs no model"),
        ("[preprocessors]\nlineart = 'x/y'", "point it at the annotator's .safetensors"),
        ("[preprocessors]\nlineart = 'sk_model.pth'", "pickle checkpoint"),
        ("[describe]\ncaptioner = 'a/b'", "`clip` is required"),
        ("[describe]\ncaptioner = 'a/b'\nclip = 'c/d'\nmodel = 'e/f'", "unknown keys ['model']"),
    ],
)
def test_mistakes_name_the_section_and_key(tmp_path: Path, extra: str, says: str) -> None:
    with pytest.raises(RegistryError) as caught:
        _load(tmp_path, extra)
    assert says in str(caught.value)


def test_without_the_sections_nothing_is_configured(tmp_path: Path) -> None:
    registry = _load(tmp_path, "")
    assert registry.controlnets == {} and registry.preprocessors == {}
    assert registry.describe is None
