"""Tiny random-weight models for tests and offline smoke runs (they paint noise).

`build_tiny_models(dir)` writes, all built from configs and saved through the real formats:
- `tiny-sd15/`: an sd15-family diffusers pipeline with the real CLIP BPE tokenizer;
- `tiny-sd15.safetensors`: the same weights as one original-layout (LDM) checkpoint;
- `tiny-unclip/`: a Stable unCLIP image-variation pipeline;
- `tiny-inpaint/`: the `tiny` model's inpainting checkpoint (a 9-channel UNet);
- `loras/ink.safetensors` (diffusers/peft format) and `loras/glow.safetensors` (kohya format);
- `embeddings/`: one textual-inversion embedding;
- `tiny-safety-checker/`: a StableDiffusionSafetyChecker + CLIPImageProcessor; its thresholds
  sit at the cosine maximum, so it flags nothing until a test lowers them;
- `models.toml` that uses all of them.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Any

import torch

from inference.tiny_edit import build_inpaint
from inference.tiny_single_file import write_single_file

TEXT_DIM = 32
IMAGE_EMBED_DIM = 32  # unCLIP image embedding width
TINY_BASE_SIZE = 64
TINY_STEPS = 4
_MODELS_TOML = """\
# Tiny random-weight models written by `nanke make-tiny-models`. They paint noise: use them to
# smoke-test Nanke without weights or a GPU, never to judge image quality.
lora_dir = "loras"
embeddings_dir = "embeddings"

[[models]]
name = "tiny"
source = "tiny-sd15"
family = "sd15"
default_steps = {steps}
base_size = {base}
default = true
inpaint = "tiny-inpaint"

[[models]]
name = "tiny-single-file"
source = "tiny-sd15.safetensors"
config = "tiny-sd15"
family = "sd15"
default_steps = {steps}
base_size = {base}

[unclip]
source = "tiny-unclip"
noise_level = 500

[safety_checker]
source = "tiny-safety-checker"
"""


def clip_bpe_path() -> Path:
    """The CLIP BPE merges shipped inside the `openai-clip` package (found, never imported)."""
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the openai-clip package is not installed (pip install openai-clip)")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def _byte_symbols() -> list[str]:
    # GPT-2/CLIP byte-level alphabet: printable bytes map to themselves, others to 256+.
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def clip_tokenizer() -> Any:
    """The real CLIP ViT-L/14 tokenizer (49408 ids), built offline from the BPE merges."""
    import transformers

    tokenizer_cls: Any = transformers.CLIPTokenizer

    with gzip.open(clip_bpe_path(), "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    return tokenizer_cls(
        vocab=vocab,
        merges=merges,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=77,
    )


def text_encoder(vocab_size: int, layers: int = 3) -> Any:
    """A tiny, tamed CLIP text encoder: the random tiny models and the trained one share it."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config_cls: Any = CLIPTextConfig  # transformers' stubs hide the config kwargs
    config = config_cls(
        vocab_size=vocab_size,
        hidden_size=TEXT_DIM,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=TEXT_DIM,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    return _tame(CLIPTextModel(config)).eval()


# Mean of the final layer norm's bias in the tiny text encoders. A freshly initialised
# LayerNorm (weight 1, bias 0) makes every token's hidden state average exactly zero, and A1111
# weighting rescales a weighted chunk by mean(before) / mean(after): 0 / ~0 gave inf/NaN
# conditioning for harmless prompts such as `[cat]`. Trained CLIP models have a biased final
# norm; so do ours, which keeps that ratio near 1 / mean(weight).
TEXT_NORM_BIAS = 0.5


def _tame(encoder: Any, seed: int = 0) -> Any:
    """Give the text encoder's final layer norm a seeded, clearly non-zero-mean bias."""
    inner = getattr(encoder, "text_model", encoder)
    norm = inner.final_layer_norm
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        noise = torch.randn(norm.bias.shape, generator=gen) * 0.1
        norm.bias.copy_(TEXT_NORM_BIAS + noise)
    return encoder


def _unet(**extra: Any) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=32,
        **extra,
    )


def _vae() -> Any:
    from diffusers import AutoencoderKL

    # Four blocks: the usual 8x latent downscale, so sizes behave like real SD.
    return AutoencoderKL(
        block_out_channels=(32, 32, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=TINY_BASE_SIZE,
    )


def _scheduler_config() -> dict[str, Any]:
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "steps_offset": 1,
        "clip_sample": False,
        "set_alpha_to_one": False,
        "prediction_type": "epsilon",
    }


def build_sd15(out: Path) -> Any:
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    tokenizer = clip_tokenizer()
    pipe: Any = StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        unet=_unet(),
        scheduler=PNDMScheduler.from_config({**_scheduler_config(), "skip_prk_steps": True}),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out)
    return pipe


def build_unclip(out: Path) -> None:
    from diffusers import DDIMScheduler, DDPMScheduler, StableUnCLIPImg2ImgPipeline
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
        StableUnCLIPImageNormalizer,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    tokenizer = clip_tokenizer()
    vision_cls: Any = CLIPVisionConfig
    vision = vision_cls(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=IMAGE_EMBED_DIM,
    )
    pipe: Any = StableUnCLIPImg2ImgPipeline(
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=CLIPVisionModelWithProjection(vision).eval(),
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=IMAGE_EMBED_DIM),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tokenizer,
        text_encoder=text_encoder(len(tokenizer)),
        # The image embedding and its noise-level embedding are concatenated: 2 x width.
        unet=_unet(
            class_embed_type="projection",
            projection_class_embeddings_input_dim=IMAGE_EMBED_DIM * 2,
        ),
        scheduler=DDIMScheduler.from_config(_scheduler_config()),
        vae=_vae(),
    )
    pipe.save_pretrained(out)


def build_safety_checker(out: Path) -> None:
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config_cls: Any = CLIPConfig
    config = config_cls(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=IMAGE_EMBED_DIM,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    # A concept is flagged when cosine similarity - threshold > 0: at 1.0 nothing ever is.
    checker.concept_embeds_weights.data.fill_(1.0)
    checker.special_care_embeds_weights.data.fill_(1.0)
    checker.save_pretrained(out)
    CLIPImageProcessor(crop_size=32, size=32).save_pretrained(out)


def build_sdxl(out: Path) -> Any:
    """A tiny sdxl-family pipeline: two text encoders, pooled + size conditioning."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer()
    config_cls: Any = CLIPTextConfig
    second = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_DIM,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=TEXT_DIM,
        bos_token_id=len(tokenizer) - 2,
        eos_token_id=len(tokenizer) - 1,
        pad_token_id=len(tokenizer) - 1,
    )
    time_dim = 8
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM * 2,  # both encoders' hidden states, concatenated
        attention_head_dim=8,
        norm_num_groups=32,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=TEXT_DIM + 6 * time_dim,
    )
    pipe: Any = StableDiffusionXLPipeline(
        vae=_vae(),
        text_encoder=text_encoder(len(tokenizer)),
        text_encoder_2=_tame(CLIPTextModelWithProjection(second), seed=1).eval(),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_config(_scheduler_config()),
    )
    pipe.save_pretrained(out)
    return pipe


def _seeded_random_(module: torch.nn.Module, seed: int, scale: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * scale)


def build_lora_diffusers(pipe: Any, path: Path, seed: int = 1) -> None:
    """A LoRA on the UNet attention projections, saved in diffusers' own format."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict
    from peft.tuners.lora import LoraLayer

    unet = pipe.unet
    config = LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    unet.add_adapter(config, adapter_name="tiny_build")
    for module in unet.modules():
        if isinstance(module, LoraLayer):
            _seeded_random_(module.lora_A["tiny_build"], seed, 0.5)
            _seeded_random_(module.lora_B["tiny_build"], seed + 1, 0.5)
            seed += 2
    layers = get_peft_model_state_dict(unet, adapter_name="tiny_build")
    StableDiffusionPipeline.save_lora_weights(
        str(path.parent), unet_lora_layers=layers, weight_name=path.name, safe_serialization=True
    )
    unet.delete_adapters("tiny_build")


def build_lora_kohya(pipe: Any, path: Path, seed: int = 2) -> None:
    """A LoRA in the kohya/sd-scripts layout (`lora_unet_…` / `lora_te_…` keys)."""
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    rank = 4
    targets = [("lora_unet_", pipe.unet, ("to_q", "to_k", "to_v", "to_out.0"))]
    targets.append(("lora_te_", pipe.text_encoder, ("q_proj", "k_proj", "v_proj", "out_proj")))
    for prefix, model, leaves in targets:
        for name, module in model.named_modules():
            if not isinstance(module, torch.nn.Linear) or not name.endswith(leaves):
                continue
            key = prefix + name.replace(".", "_")
            tensors[f"{key}.lora_down.weight"] = torch.randn(
                rank, module.in_features, generator=gen
            )
            tensors[f"{key}.lora_up.weight"] = torch.randn(module.out_features, rank, generator=gen)
            tensors[f"{key}.alpha"] = torch.tensor(float(rank))
    save_file(tensors, str(path))


def build_embedding(path: Path, seed: int = 3) -> None:
    """A one-vector textual-inversion embedding (A1111 safetensors layout)."""
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    save_file({"emb_params": torch.randn(1, TEXT_DIM, generator=gen)}, str(path))


# --- single-file checkpoint: diffusers keys → the original (LDM) layout people download ---


def build_tiny_models(out: Path) -> Path:
    """Write every tiny model and a models.toml using them; returns the models.toml path."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    pipe = build_sd15(out / "tiny-sd15")
    write_single_file(pipe, out / "tiny-sd15.safetensors")
    (out / "loras").mkdir(exist_ok=True)
    # kohya first: the diffusers builder wraps the UNet's Linear layers in peft layers.
    build_lora_kohya(pipe, out / "loras" / "glow.safetensors")
    build_lora_diffusers(pipe, out / "loras" / "ink.safetensors")
    (out / "embeddings").mkdir(exist_ok=True)
    build_embedding(out / "embeddings" / "tinytoken.safetensors")
    torch.manual_seed(1)
    build_unclip(out / "tiny-unclip")
    build_safety_checker(out / "tiny-safety-checker")
    build_inpaint(out / "tiny-inpaint", pipe)
    toml = out / "models.toml"
    toml.write_text(_MODELS_TOML.format(steps=TINY_STEPS, base=TINY_BASE_SIZE), encoding="utf-8")
    return toml
