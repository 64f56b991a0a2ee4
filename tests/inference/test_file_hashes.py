"""Model, LoRA and textual-inversion hashes in the PNG parameters, as A1111 computes them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from inference.file_hashes import file_sha256, generation_hashes
from inference.infotext import parse_infotext
from prompt.request import LoraRef
from tests.inference.engine_helpers import spec, with_gen


def _addnet(path: Path) -> str:
    """A1111's addnet_hash_safetensors, restated: sha256 of the bytes after the header."""
    data = path.read_bytes()
    return hashlib.sha256(data[8 + int.from_bytes(data[:8], "little") :]).hexdigest()


def test_a_replaced_file_is_hashed_again(tmp_path: Path) -> None:
    import os

    path = tmp_path / "x.bin"
    path.write_bytes(b"one")
    assert file_sha256(path) == hashlib.sha256(b"one").hexdigest()
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert file_sha256(path) == hashlib.sha256(b"two!").hexdigest()


def test_pngs_carry_a1111_hashes(registry: Any, engine: Any) -> None:
    single = Path(registry.model("tiny-single-file").source)
    lora = registry.lora_path("ink")
    embedding = next(p for p in registry.embeddings() if p.stem == "tinytoken")
    job = with_gen(spec(registry, "a tinytoken fox"), model="tiny-single-file")
    job = with_gen(job, loras=(LoraRef(name="ink", weight=0.5),), steps=1)
    params = parse_infotext(engine.run(job).infotexts[0]).params
    assert params["Model hash"] == hashlib.sha256(single.read_bytes()).hexdigest()[:10]
    assert params["Lora hashes"] == f"ink: {_addnet(lora)[:12]}"
    assert (
        params["TI hashes"]
        == f"tinytoken: {hashlib.sha256(embedding.read_bytes()).hexdigest()[:12]}"
    )
    assert params["Version"].startswith("Nanke")
    # A diffusers folder has no single file: no Model hash; no TI named, no TI hashes.
    plain = generation_hashes(registry, spec(registry, "a fox").generation)
    assert set(plain) == {"Version"}
