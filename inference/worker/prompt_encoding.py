"""Prompt text → conditioning tensors, the A1111 way, without truncation.

- a multi-vector textual inversion `tok` becomes `tok, tok_1 … tok_{n-1}` (diffusers'
  `maybe_convert_prompt`, A1111), kept within one chunk;
- A1111 attention syntax (`(word:1.3)`, `[word]`, BREAK) gives each token a weight;
- tokens go into 75-token chunks (a full chunk breaks after its last comma if that comma is
  within the last 20 tokens and the overflowing token is not itself a comma, like A1111);
  each chunk is encoded as BOS + 75 + EOS = 77 tokens and the chunks are concatenated, so
  prompts of any length are encoded whole;
- token weights scale the hidden states, then the chunk is rescaled to its original mean;
- clip skip N (A1111 numbering: 1 = last layer) takes the N-th hidden state from the end and
  applies the final layer norm ourselves, independent of transformers' `clip_skip`;
- `::` parts are encoded separately and averaged with their weights;
- the negative prompt is padded to the same number of chunks when `pad_negative` (otherwise the
  engine runs it in its own UNet call when the lengths differ: `inference/worker/conditioning.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from inference.errors import BadRequestError
from inference.prompt_weights import BREAK, parse_attention
from inference.worker.embeddings import multi_vector_tokens
from prompt.request import PromptPart

CHUNK = 75
_COMMA_LOOKBACK = 20

Chunk = list[tuple[int, float]]


@dataclass
class Encoded:
    cond: torch.Tensor  # [1, 77·n, D]
    uncond: torch.Tensor  # [1, 77·n, D]
    pooled: torch.Tensor | None = None  # SDXL only
    uncond_pooled: torch.Tensor | None = None
    chunks: int = 1
    tokens: int = 0  # prompt tokens encoded (all of them: nothing is cut)

    def finite(self) -> bool:
        """Every value is a real number: extreme attention weights overflow to inf/NaN, and
        a job whose conditioning is not finite would run every step for a black image."""
        tensors = (self.cond, self.uncond, self.pooled, self.uncond_pooled)
        return all(bool(torch.isfinite(t).all()) for t in tensors if t is not None)


def chunk_tokens(tokenizer: Any, text: str) -> list[Chunk]:
    """Weighted token ids of `text` in chunks of at most 75."""
    comma = tokenizer.convert_tokens_to_ids(",</w>")
    multi = multi_vector_tokens(tokenizer)
    chunks: list[Chunk] = [[]]
    for fragment, weight in parse_attention(text):
        if fragment == BREAK and weight == -1.0:
            chunks.append([])
            continue
        ids = tokenizer(fragment, add_special_tokens=False, truncation=False)["input_ids"]
        for token in ids:
            current = chunks[-1]
            if len(current) == CHUNK:
                tail: Chunk = []
                commas = [i for i, (t, _) in enumerate(current) if t == comma]
                # A1111 moves the words after the last comma on, unless the token that
                # overflows is itself a comma: then the full chunk stays as it is.
                if token != comma and commas and commas[-1] >= CHUNK - _COMMA_LOOKBACK:
                    cut = commas[-1] + 1
                    tail = current[cut:]
                    del current[cut:]
                chunks.append(tail)
            # A multi-vector embedding brings all its vectors, never split across chunks.
            group = multi.get(token, [token])[:CHUNK]
            if len(chunks[-1]) + len(group) > CHUNK:
                chunks.append([])
            chunks[-1].extend((t, weight) for t in group)
    if len(chunks) > 1 and not chunks[-1]:
        chunks.pop()
    return chunks


def _final_norm(encoder: Any) -> Any:
    # transformers >= 5.6 dropped CLIPTextModel.text_model; look in both places.
    inner = getattr(encoder, "text_model", encoder)
    return inner.final_layer_norm


def _encode_chunk(
    tokenizer: Any, encoder: Any, chunk: Chunk, clip_skip: int, penultimate: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = [tokenizer.bos_token_id, *(t for t, _ in chunk), tokenizer.eos_token_id]
    weights = [1.0, *(w for _, w in chunk), 1.0]
    ids += [pad] * (CHUNK + 2 - len(ids))
    weights += [1.0] * (CHUNK + 2 - len(weights))
    device = encoder.device
    out = encoder(torch.tensor([ids], device=device), output_hidden_states=True)
    layers = len(out.hidden_states) - 1
    if clip_skip + int(penultimate) > layers:
        raise BadRequestError(
            f"--clip-skip {clip_skip} is too deep: this model's text encoder has {layers} layers"
        )
    if penultimate:  # SDXL: hidden states without the final norm, one layer deeper per skip
        hidden = out.hidden_states[-(1 + clip_skip)]
    elif clip_skip > 1:
        hidden = _final_norm(encoder)(out.hidden_states[-clip_skip])
    else:
        hidden = out.last_hidden_state
    pooled = getattr(out, "text_embeds", None)
    w = torch.tensor(weights, device=device, dtype=hidden.dtype)[None, :, None]
    if bool((w != 1.0).any()):
        mean = hidden.float().mean()
        hidden = hidden * w
        hidden = hidden * (mean / hidden.float().mean()).to(hidden.dtype)
    return hidden, pooled


def _encode_text_chunks(
    encoders: list[tuple[Any, Any]], chunks_per_encoder: list[list[Chunk]], clip_skip: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    # SDXL reads the penultimate layer of both encoders; so does its refiner, which has only
    # the second (OpenCLIP bigG, the one with a text projection).
    sdxl = len(encoders) == 2 or hasattr(encoders[0][1], "text_projection")
    per_encoder: list[torch.Tensor] = []
    pooled: torch.Tensor | None = None
    for (tokenizer, encoder), chunks in zip(encoders, chunks_per_encoder, strict=True):
        hidden = []
        for i, chunk in enumerate(chunks):
            h, p = _encode_chunk(tokenizer, encoder, chunk, clip_skip, penultimate=sdxl)
            hidden.append(h)
            if i == 0 and p is not None:
                pooled = p
        per_encoder.append(torch.cat(hidden, dim=1))
    return torch.cat(per_encoder, dim=-1), pooled


def _pad(chunks: list[Chunk], n: int) -> list[Chunk]:
    return chunks + [[] for _ in range(n - len(chunks))]


def encode_parts(
    encoders: list[tuple[Any, Any]], parts: tuple[PromptPart, ...], clip_skip: int, n: int = 1
) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """The weighted average of `parts`' encodings, each padded to at least `n` chunks (and to
    the longest part); (hidden [1, 77·chunks, D], pooled or None, prompt tokens)."""
    parts = parts or (PromptPart(text=""),)
    part_chunks = [[chunk_tokens(tok, p.text) for tok, _ in encoders] for p in parts]
    n = max(n, *(len(c) for per_enc in part_chunks for c in per_enc))
    tokens = sum(len(chunk) for per_enc in part_chunks for chunk in per_enc[0])
    total = sum(p.weight for p in parts)
    norm = total if total > 0 else sum(abs(p.weight) for p in parts) or 1.0
    cond: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    for part, chunks in zip(parts, part_chunks, strict=True):
        embeds, part_pooled = _encode_text_chunks(encoders, [_pad(c, n) for c in chunks], clip_skip)
        share = part.weight / norm if len(parts) > 1 else 1.0
        cond = embeds * share if cond is None else cond + embeds * share
        if part_pooled is not None:
            pooled = part_pooled * share if pooled is None else pooled + part_pooled * share
    assert cond is not None
    return cond, pooled, tokens


@torch.inference_mode()
def encode_prompt(
    encoders: list[tuple[Any, Any]],
    parts: tuple[PromptPart, ...],
    negative: str,
    clip_skip: int | None = None,
    *,
    pad_negative: bool = True,
) -> Encoded:
    """Encode weighted `parts` and the negative prompt with one (SD) or two (SDXL) encoders.
    Without `pad_negative`, prompt and negative keep their own chunk counts."""
    skip = clip_skip or 1
    neg_chunks = [chunk_tokens(tok, negative) for tok, _ in encoders]
    n_neg = max(len(c) for c in neg_chunks)
    cond, pooled, tokens = encode_parts(encoders, parts, skip, n_neg if pad_negative else 1)
    n = cond.shape[1] // (CHUNK + 2)
    uncond, uncond_pooled = _encode_text_chunks(
        encoders, [_pad(c, n if pad_negative else n_neg) for c in neg_chunks], skip
    )
    return Encoded(cond, uncond, pooled, uncond_pooled, chunks=n, tokens=tokens)
