"""Prompt packs: curated prompt templates run with a member's LoRA (torch-free).

A packs file is TOML: `[[packs]]` tables with `name`, `description` and `prompts` (each with
`{subject}`, which becomes the LoRA's trigger and subject word). Nanke ships
`packs_default.toml`; admins copy and edit it. Errors name the file and what to fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from inference.errors import BadRequestError, RegistryError

DEFAULT_PACKS = Path(__file__).with_name("packs_default.toml")
MAX_PROMPTS = 16
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    prompts: tuple[str, ...]

    def prompts_for(self, subject: str, lora: str, weight: float = 0.8) -> list[str]:
        """Each template with `{subject}` filled in and the LoRA flag appended."""
        return [
            t.replace("{subject}", subject) + f" --lora {lora}:{weight:g}" for t in self.prompts
        ]


def load_packs(path: Path = DEFAULT_PACKS) -> dict[str, Pack]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"cannot read packs file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"packs file {path} is not valid TOML: {exc}") from None
    packs: dict[str, Pack] = {}
    for i, entry in enumerate(data.get("packs", []), start=1):
        name = entry.get("name")
        prompts = entry.get("prompts")
        where = f"{path}: pack {i}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RegistryError(f"{where}: `name` must be 1-32 lower-case letters, digits, - _")
        if name in packs:
            raise RegistryError(f"{where}: a second pack named {name!r}")
        if (
            not isinstance(prompts, list)
            or not 1 <= len(prompts) <= MAX_PROMPTS
            or not all(isinstance(p, str) and "{subject}" in p for p in prompts)
        ):
            raise RegistryError(
                f"{where} ({name}): `prompts` must be 1-{MAX_PROMPTS} texts, each with {{subject}}"
            )
        packs[name] = Pack(name, str(entry.get("description", "")), tuple(prompts))
    if not packs:
        raise RegistryError(f"packs file {path} has no [[packs]]")
    return packs


def pick_pack(packs: dict[str, Pack], name: str) -> Pack:
    pack = packs.get(name)
    if pack is None:
        raise BadRequestError(f"no pack named {name!r}; the packs are: {', '.join(sorted(packs))}")
    return pack
