"""Textual inversions as A1111 and diffusers use them: every vector of a multi-vector
embedding reaches the text encoder (against diffusers' own `maybe_convert_prompt` path)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from inference.worker.embeddings import load_embeddings
from inference.worker.prompt_encoding import chunk_tokens, encode_prompt
from prompt.request import PromptPart

WIDTH = 32  # the tiny text encoder's width


def _vectors(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, WIDTH, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def sd(engine: Any) -> Any:
    return engine.pipelines.model("tiny").base


def _unload(pipe: Any, token: str, n: int) -> None:
    names = [token] + [f"{token}_{i}" for i in range(1, n)]
    pipe.unload_textual_inversion(tokens=names)


@pytest.mark.parametrize("fmt", ["a1111.pt", "sd-scripts.safetensors"])
def test_multi_vector_embedding_matches_diffusers(sd: Any, tmp_path: Path, fmt: str) -> None:
    from safetensors.torch import save_file

    path = tmp_path / ("tritok.pt" if fmt.endswith(".pt") else "tritok.safetensors")
    vectors = _vectors(3, seed=5)
    if path.suffix == ".pt":  # A1111's training output
        torch.save({"string_to_param": {"*": vectors}, "name": "tritok", "step": 500}, path)
    else:
        save_file({"emb_params": vectors}, str(path))
    assert load_embeddings(sd, [path], sdxl=False) == ["tritok"]
    try:
        text = "a photo of tritok in the snow"
        chunks = chunk_tokens(sd.tokenizer, text)
        plain = chunk_tokens(sd.tokenizer, "a photo of x in the snow")
        assert len(chunks[0]) == len(plain[0]) + 2  # tok, tok_1, tok_2
        ours = encode_prompt([(sd.tokenizer, sd.text_encoder)], (PromptPart(text=text),), "")
        with torch.inference_mode():
            theirs, _ = sd.encode_prompt(text, "cpu", 1, False)  # runs maybe_convert_prompt
        assert torch.allclose(ours.cond, theirs, atol=1e-5)
        # One chunk never splits an embedding: 74 tokens, then the 3 vectors start chunk 2.
        long = chunk_tokens(sd.tokenizer, "fox " * 74 + "tritok")
        assert [len(c) for c in long] == [74, 3]
    finally:
        _unload(sd, "tritok", 3)


def test_embeddings_that_do_not_fit_are_skipped_with_one_line(
    sd: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from safetensors.torch import save_file

    save_file(
        {"clip_l": _vectors(2, 1), "clip_g": _vectors(2, 2)}, str(tmp_path / "xl.safetensors")
    )
    save_file({"emb_params": torch.randn(1, 768)}, str(tmp_path / "wide.safetensors"))
    save_file({"a": torch.zeros(2), "b": torch.ones(3)}, str(tmp_path / "odd.safetensors"))
    (tmp_path / "junk.pt").write_bytes(b"not a pickle")
    paths = sorted(tmp_path.iterdir())
    with caplog.at_level(logging.WARNING, logger="inference.worker.embeddings"):
        assert load_embeddings(sd, paths, sdxl=False) == []
    lines = {r.getMessage() for r in caplog.records}
    assert lines == {
        "skipping embedding junk.pt: it cannot be read (UnpicklingError)",
        "skipping embedding odd.safetensors: it has no embedding vectors Nanke knows (keys: a, b)",
        "skipping embedding wide.safetensors: it has 768-wide vectors; this model's text encoder "
        "takes 32 (an embedding for another model family)",
        "skipping embedding xl.safetensors: it is an SDXL embedding (clip_l/clip_g), and this "
        "model is not",
    }
