"""The hashes A1111 writes into PNG parameters, so Civitai and A1111 recognise the resources.

- `Model hash`: the first 10 hex digits of the checkpoint file's sha256 (A1111's short hash);
  a diffusers folder or hub model has no single file, so no hash;
- `Lora hashes: "name: hash, …"`: the first 12 hex digits of the LoRA's "addnet" hash (sha256
  of a .safetensors file's tensor data, after its header), as A1111's Lora extension writes;
- `TI hashes: "name: hash, …"`: the first 12 hex digits of the sha256 of each textual
  inversion named in the prompt or negative prompt;
- `Version`: the Nanke version that painted the image.

Each file is hashed once per process (the cache key is its path, size and modification time,
so a replaced file is hashed again): a checkpoint of several GB takes seconds, on the first job
that uses it. Pure Python, no torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from importlib import metadata
from pathlib import Path

from inference.errors import UnknownLoraError
from inference.registry import Registry, UnclipEntry
from prompt.request import Generation

_BLOCK = 1 << 20
_cache: dict[tuple[str, int, int, bool], str] = {}
_lock = threading.Lock()


def file_sha256(path: Path, *, addnet: bool = False) -> str:
    """sha256 of the file (with `addnet`: of a .safetensors file's data after its header)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, addnet)
    with _lock:
        if key in _cache:
            return _cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        if addnet:
            header = int.from_bytes(f.read(8), "little")
            f.seek(header + 8)
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _cache[key] = value
    return value


def _version() -> str:
    try:
        return f"Nanke {metadata.version('nanke')}"
    except metadata.PackageNotFoundError:
        return "Nanke"


def generation_hashes(registry: Registry, gen: Generation) -> dict[str, str]:
    """The hash fields of `gen`'s PNG parameters (see the module doc); files that cannot be
    read are left out rather than failing the job."""
    out: dict[str, str] = {}
    entry = registry.models.get(gen.model)
    if entry is not None and entry.kind == "single_file":
        with contextlib.suppress(OSError):
            out["Model hash"] = file_sha256(Path(entry.source))[:10]
    loras = []
    for lora in gen.loras:
        if lora.key is not None:  # a member's stored LoRA, not the folder's file of that name
            continue
        try:
            digest = file_sha256(registry.lora_path(lora.name), addnet=True)
        except (OSError, UnknownLoraError):
            continue
        loras.append(f"{lora.name}: {digest[:12]}")
    if loras:
        out["Lora hashes"] = ", ".join(loras)
    text = " ".join([gen.prompt, *(p.text for p in gen.parts), gen.negative_prompt])
    words = set(re.findall(r"[\w.-]+", text))
    embeddings = []
    for path in registry.embeddings():
        if path.stem in words:
            try:
                embeddings.append(f"{path.stem}: {file_sha256(path)[:12]}")
            except OSError:
                continue
    if embeddings:
        out["TI hashes"] = ", ".join(embeddings)
    out["Version"] = _version()
    return out


def unclip_fields(entry: UnclipEntry, fields: dict[str, str], base_model: str) -> dict[str, str]:
    """`fields` for a strong variation made by Stable unCLIP: `Model` (and `Model hash`) name
    the unCLIP model that painted it (its folder, file or hub name, never a whole path), and
    `Variation of` the model of the image it varied."""
    out = {k: v for k, v in fields.items() if k != "Model hash"}
    out["Model"] = Path(entry.source.rstrip("/")).name
    if entry.kind == "single_file":
        with contextlib.suppress(OSError):
            out["Model hash"] = file_sha256(Path(entry.source))[:10]
    out["Variation of"] = base_model
    out["Noise level"] = str(entry.noise_level)
    return out
