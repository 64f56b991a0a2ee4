from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import ModelFileError, RegistryError, UnknownLoraError, UnknownModelError
from inference.registry import load_registry


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sources_families_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "loras").mkdir()
    (tmp_path / "loras" / "ink.safetensors").write_bytes(b"x")
    path = _write(
        tmp_path,
        """
lora_dir = "loras"
[[models]]
name = "sd15"
source = "stable-diffusion-v1-5/stable-diffusion-v1-5"
family = "sd15"
[[models]]
name = "xl"
source = "local"
family = "sdxl"
default = true
[[models]]
name = "file"
source = "ckpt/model.safetensors"
config = "local"
family = "sd2"
default_steps = 25
[unclip]
source = "local"
noise_level = 300
""",
    )
    reg = load_registry(path)
    assert reg.default == "xl" and reg.model().name == "xl"
    sd15, xl, single = reg.model("sd15"), reg.model("xl"), reg.model("file")
    assert (sd15.kind, sd15.base_size, sd15.default_steps) == ("hub", 512, 30)
    assert (xl.kind, xl.base_size, xl.source) == ("dir", 1024, str(tmp_path / "local"))
    assert (single.kind, single.base_size, single.default_steps) == ("single_file", 768, 25)
    assert single.config == str(tmp_path / "local")
    assert reg.unclip is not None and reg.unclip.noise_level == 300
    assert reg.loras() == ["ink"]
    assert reg.lora_path("ink") == tmp_path / "loras" / "ink.safetensors"
    with pytest.raises(UnknownLoraError, match="available: ink"):
        reg.lora_path("nope")
    with pytest.raises(UnknownModelError, match="file, sd15, xl"):
        reg.model("nope")
    with pytest.raises(ModelFileError, match="does not exist"):
        single.check_files()


_MINIMAL = '[[models]]\nname = "a"\nsource = "x/y"\nfamily = "sd15"\n'


def test_safety_checker_is_optional_and_takes_a_hub_id_or_a_folder(tmp_path: Path) -> None:
    assert load_registry(_write(tmp_path, _MINIMAL)).safety_checker is None
    hub = load_registry(_write(tmp_path, _MINIMAL + '[safety_checker]\nsource = "Org/checker"'))
    assert hub.safety_checker is not None
    assert (hub.safety_checker.source, hub.safety_checker.kind) == ("Org/checker", "hub")
    local = load_registry(_write(tmp_path, _MINIMAL + '[safety_checker]\nsource = "./sc"'))
    assert local.safety_checker is not None
    assert (local.safety_checker.source, local.safety_checker.kind) == (
        str((tmp_path / "sc").resolve()),
        "dir",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ('[[models]]\nname = "a"\nsource = "x/y"\nfamily = "sd4"', "family"),
        ('[[models]]\nname = "a"\nsource = "m.ckpt"\nfamily = "sd15"', "pickle"),
        ('[[models]]\nname = "a"\nsource = "x/y"\nfamily = "sd15"\nbase_size = 500', "multiple"),
        ('[[models]]\nname = "a"\nsource = "x/y"\nfamily = "sd15"\ncolour = 1', "unknown keys"),
        (
            '[[models]]\nname = "a"\nsource = "x/y"\nfamily = "sd15"\n'
            '[[models]]\nname = "a"\nsource = "x/z"\nfamily = "sd15"',
            "twice",
        ),
        ("[[models]\n", "not valid TOML"),
        ('safety_checker = "x/y"\n' + _MINIMAL, r"\[safety_checker\] must be a table"),
        (_MINIMAL + '[safety_checker]\nsource = "sc.safetensors"', "not a single file"),
        (_MINIMAL + '[safety_checker]\nsource = "x/y"\nstrict = 1', "unknown keys"),
        (_MINIMAL + "[safety_checker]\n", "`source` must be"),
    ],
)
def test_bad_registry_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load_registry(_write(tmp_path, text))


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="make-tiny-models"):
        load_registry(tmp_path / "nope.toml")


def test_the_upscaler_is_a_file_or_a_hub_file(tmp_path: Path) -> None:
    from inference.upscaler_entry import UpscalerEntry

    assert load_registry(_write(tmp_path, _MINIMAL)).upscaler is None
    local = load_registry(_write(tmp_path, _MINIMAL + '[upscaler]\nsource = "up/x4.pth"'))
    assert local.upscaler == UpscalerEntry("x4", path=str(tmp_path / "up" / "x4.pth"))
    hub = load_registry(
        _write(
            tmp_path,
            _MINIMAL + '[upscaler]\nrepo = "Org/esrgan"\nfile = "a/x4.safetensors"\nname = "X4"',
        )
    )
    assert hub.upscaler == UpscalerEntry("X4", repo="Org/esrgan", file="a/x4.safetensors")


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('[upscaler]\nsource = "x4.onnx"', "must name a .pth or .safetensors file"),
        ('[upscaler]\nrepo = "Org/esrgan"', "must name a .pth or .safetensors file"),
        ('[upscaler]\nfile = "x4.pth"', "set `source`"),
        ('[upscaler]\nsource = "x4.pth"\nrepo = "Org/e"\nfile = "x4.pth"', "not both"),
        ('[upscaler]\nsource = "x4.pth"\nscale = 4', "unknown keys ['scale']"),
        ('upscaler = "x4.pth"', "must be a table"),
    ],
)
def test_bad_upscaler_tables_are_one_line(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(RegistryError) as exc:
        load_registry(_write(tmp_path, table + "\n" + _MINIMAL))
    assert says in str(exc.value) and "models.toml [upscaler]" in str(exc.value)
