"""Textual inversions (the `embeddings` folder): read A1111 `.pt`, sd-scripts / A1111
`.safetensors`, diffusers `.bin` and SDXL (`clip_l` + `clip_g`) files, load them into a model.

The token is the file's stem. An embedding of n vectors adds the tokens `tok`, `tok_1` …
`tok_{n-1}` (diffusers' layout); the prompt encoder expands `tok` into all n of them, as
diffusers' `maybe_convert_prompt` and A1111 do (`inference/worker/prompt_encoding.py`). A file
that does not fit the model (another family, an unreadable format) is skipped with a one-line
warning that names the file and why; tensor values never reach the log.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

SDXL_KEYS = ("clip_l", "clip_g")


class EmbeddingFileError(ValueError):
    """A file that is not a textual inversion Nanke can read (the message holds no values)."""


def read_embedding(path: Path) -> dict[str, torch.Tensor]:
    """{"": vectors [n, D]} for SD 1.x/2.x files, {"clip_l": …, "clip_g": …} for SDXL."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise EmbeddingFileError(f"cannot be read ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise EmbeddingFileError("holds no embedding table")
    if all(isinstance(state.get(k), torch.Tensor) for k in SDXL_KEYS):
        return {k: _matrix(state[k]) for k in SDXL_KEYS}
    params = state.get("string_to_param")  # A1111 .pt
    if isinstance(params, dict) and isinstance(params.get("*"), torch.Tensor):
        return {"": _matrix(params["*"])}
    if isinstance(state.get("emb_params"), torch.Tensor):  # sd-scripts / A1111 safetensors
        return {"": _matrix(state["emb_params"])}
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
    if len(state) == 1 and len(tensors) == 1:  # diffusers learned_embeds: {token: vectors}
        return {"": _matrix(tensors[0])}
    raise EmbeddingFileError(f"has no embedding vectors Nanke knows (keys: {_keys(state)})")


def _matrix(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.ndim == 1:
        tensor = tensor[None]
    if tensor.ndim != 2 or not tensor.shape[0]:
        raise EmbeddingFileError(f"has vectors of shape {tuple(tensor.shape)}, not [n, width]")
    return tensor


def _keys(state: dict[Any, Any]) -> str:
    names = [str(k)[:30] for k in list(state)[:5]]
    return ", ".join(names) + (" …" if len(state) > 5 else "")


def load_embeddings(pipe: Any, paths: list[Path], *, sdxl: bool) -> list[str]:
    """Load every embedding that fits `pipe`; the tokens loaded."""
    loaded = []
    for path in paths:
        try:
            _load_one(pipe, path, sdxl)
        except EmbeddingFileError as exc:
            # An embedding for another model family must not stop the worker.
            log.warning("skipping embedding %s: it %s", path.name, exc)
            continue
        loaded.append(path.stem)
    return loaded


def _load_one(pipe: Any, path: Path, sdxl: bool) -> None:
    vectors = read_embedding(path)
    if sdxl != ("clip_l" in vectors):
        kind = "an SDXL embedding (clip_l/clip_g)" if not sdxl else "an SD 1.x/2.x embedding"
        raise EmbeddingFileError(f"is {kind}, and this model is {'SDXL' if sdxl else 'not'}")
    targets = [(pipe.tokenizer, pipe.text_encoder)]
    if sdxl:
        targets.append((pipe.tokenizer_2, pipe.text_encoder_2))
    keys = SDXL_KEYS if sdxl else ("",)
    for key, (tokenizer, encoder) in zip(keys, targets, strict=True):
        width = encoder.get_input_embeddings().weight.shape[1]
        if vectors[key].shape[1] != width:
            raise EmbeddingFileError(
                f"has {vectors[key].shape[1]}-wide vectors; this model's text encoder takes "
                f"{width} (an embedding for another model family)"
            )
        if path.stem in tokenizer.get_vocab():
            raise EmbeddingFileError(f"names the token {path.stem!r}, already a word or embedding")
    for key, (tokenizer, encoder) in zip(keys, targets, strict=True):
        pipe.load_textual_inversion(
            vectors[key], token=path.stem, tokenizer=tokenizer, text_encoder=encoder
        )


def multi_vector_tokens(tokenizer: Any) -> dict[int, list[int]]:
    """First token id of each multi-vector embedding → all its ids (`tok`, `tok_1`, …)."""
    added: dict[str, int] = tokenizer.get_added_vocab()
    cached = getattr(tokenizer, "_nanke_multi_vector", None)
    if cached is not None and cached[0] == len(added):
        return dict(cached[1])
    groups: dict[int, list[int]] = {}
    for token, first in added.items():
        ids, n = [first], 1
        while f"{token}_{n}" in added:
            ids.append(added[f"{token}_{n}"])
            n += 1
        if n > 1:
            groups[first] = ids
    tokenizer._nanke_multi_vector = (len(added), groups)
    return dict(groups)
