"""Tiny random-weight models of the DiT families (flux, zimage, sd3, flux2), for tests.

Each is the family's real diffusers pipeline saved with `save_pretrained`, built from configs
as small as diffusers' own pipeline tests use: one or two transformer blocks, 2-28 layer text
encoders of width 16-64, a 4-block VAE (8x downscale, so 64 px → 8 × 8 latents). Tokenizers are
built offline: the real CLIP BPE (`inference.tiny.clip_tokenizer`), a character-level T5
unigram tokenizer and a byte-level Qwen2 tokenizer with a chat template (no merges). They paint
noise; they exercise the families' real code paths on a CPU in seconds. `tiny-flux` is also
the tiny models' edit model (FluxKontextPipeline runs on a FLUX.1 transformer).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import torch

from inference.tiny import TINY_BASE_SIZE, _byte_symbols, clip_tokenizer, text_encoder

TINY_FAMILY_STEPS = 2
_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
FAMILY_MODELS = {  # models.toml name → (folder, family)
    "tiny-flux": ("tiny-flux", "flux"),
    "tiny-zimage": ("tiny-zimage", "zimage"),
    "tiny-sd3": ("tiny-sd3", "sd3"),
    "tiny-flux2": ("tiny-flux2", "flux2"),
}
TINY_EDIT_MODEL = "tiny-flux"  # models.toml's `edit`: FLUX.1 Kontext's pipeline on it


def models_toml_entries() -> str:
    """The [[models]] blocks for the tiny family models (appended to tiny models.toml)."""
    blocks = [
        f'[[models]]\nname = "{name}"\nsource = "{folder}"\nfamily = "{family}"\n'
        f"default_steps = {TINY_FAMILY_STEPS}\nbase_size = {TINY_BASE_SIZE}\n"
        for name, (folder, family) in FAMILY_MODELS.items()
    ]
    return "\n".join(blocks)


def t5_tokenizer() -> Any:
    """A T5 (unigram) tokenizer over single characters: real T5 special tokens and padding."""
    from transformers import T5Tokenizer

    chars = string.ascii_letters + string.digits + string.punctuation
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in chars] + [(f"▁{c}", -2.5) for c in chars]
    tokenizer_cls: Any = T5Tokenizer
    return tokenizer_cls(vocab=pieces, extra_ids=0, model_max_length=512)


def t5_encoder(vocab_size: int, width: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    config_cls: Any = T5Config
    config = config_cls(
        vocab_size=vocab_size,
        d_model=width,
        d_kv=8,
        d_ff=2 * width,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config).eval()


def qwen_tokenizer() -> Any:
    """A byte-level Qwen2 tokenizer (every byte one token) with a Qwen-style chat template."""
    from transformers import Qwen2Tokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(_byte_symbols() + specials)}
    tokenizer_cls: Any = Qwen2Tokenizer
    tokenizer = tokenizer_cls(
        vocab=vocab, merges=[], additional_special_tokens=specials[1:], model_max_length=512
    )
    tokenizer.chat_template = _CHAT_TEMPLATE
    return tokenizer


def qwen3(vocab_size: int, hidden: int, layers: int, causal_lm: bool) -> Any:
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    config_cls: Any = Qwen3Config
    config = config_cls(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=hidden // 2,
        max_position_embeddings=1024,
    )
    model = Qwen3ForCausalLM(config) if causal_lm else Qwen3Model(config)
    return model.eval()


def _vae(latent_channels: int = 4, **extra: Any) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=latent_channels,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=TINY_BASE_SIZE,
        **extra,
    )


def _flow_scheduler(**config: Any) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(**config)


def build_flux(out: Path) -> None:
    """FLUX.1 dev's layout: CLIP + T5, a guidance-embedded transformer, dynamic shift."""
    from diffusers import FluxPipeline, FluxTransformer2DModel

    t5_tok = t5_tokenizer()
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels packed 2 × 2
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    )
    pipe: Any = FluxPipeline(
        scheduler=_flow_scheduler(use_dynamic_shifting=True, shift=3.0),
        vae=_vae(
            shift_factor=0.1, scaling_factor=1.5, use_quant_conv=False, use_post_quant_conv=False
        ),
        text_encoder=text_encoder(49408),
        tokenizer=clip_tokenizer(),
        text_encoder_2=t5_encoder(len(t5_tok), 32),
        tokenizer_2=t5_tok,
        transformer=transformer,
    )
    pipe.save_pretrained(out)


def build_zimage(out: Path) -> None:
    """Z-Image-Turbo's layout: a Qwen3 text encoder and a single-stream transformer, shift 3."""
    from diffusers import ZImagePipeline, ZImageTransformer2DModel

    tokenizer = qwen_tokenizer()
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=4,
        dim=32,
        n_layers=1,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        cap_feat_dim=16,
        axes_dims=[8, 4, 4],
        axes_lens=[1024, 64, 64],
    )
    pipe: Any = ZImagePipeline(
        scheduler=_flow_scheduler(shift=3.0, use_dynamic_shifting=False),
        vae=_vae(shift_factor=0.1, scaling_factor=1.5),
        text_encoder=qwen3(len(tokenizer), 16, 2, causal_lm=False),
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.save_pretrained(out)


def _clip_with_projection(seed: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    config_cls: Any = CLIPTextConfig
    config = config_cls(
        vocab_size=49408,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    return CLIPTextModelWithProjection(config).eval()


def build_sd3(out: Path) -> None:
    """SD 3.5's layout: CLIP-L, CLIP-G (both with projection), T5 and an MMDiT."""
    from diffusers import SD3Transformer2DModel, StableDiffusion3Pipeline

    t5_tok = t5_tokenizer()
    transformer = SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        joint_attention_dim=64,
        caption_projection_dim=32,
        pooled_projection_dim=64,
        out_channels=4,
        pos_embed_max_size=64,
    )
    pipe: Any = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=_flow_scheduler(shift=3.0),
        vae=_vae(shift_factor=0.1, scaling_factor=1.5),
        text_encoder=_clip_with_projection(1),
        tokenizer=clip_tokenizer(),
        text_encoder_2=_clip_with_projection(2),
        tokenizer_2=clip_tokenizer(),
        text_encoder_3=t5_encoder(len(t5_tok), 64),
        tokenizer_3=t5_tok,
    )
    pipe.save_pretrained(out)


def build_flux2(out: Path) -> None:
    """FLUX.2 [klein]'s layout: Qwen3 (hidden states of layers 9, 18, 27 stacked), the FLUX.2
    VAE (2 × 2 patchified latents with batch norm) and a distilled transformer."""
    from diffusers import AutoencoderKLFlux2, Flux2KleinPipeline, Flux2Transformer2DModel

    tokenizer = qwen_tokenizer()
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=3 * 16,
        timestep_guidance_channels=32,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,
    )
    vae = AutoencoderKLFlux2(
        block_out_channels=(16, 16, 16, 16),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=TINY_BASE_SIZE,
    )
    pipe: Any = Flux2KleinPipeline(
        scheduler=_flow_scheduler(use_dynamic_shifting=True, shift=3.0),
        vae=vae,
        text_encoder=qwen3(len(tokenizer), 16, 27, causal_lm=True),
        tokenizer=tokenizer,
        transformer=transformer,
        is_distilled=True,
    )
    pipe.save_pretrained(out)


def build_family_models(out: Path, toml: Path) -> None:
    """Write every tiny family model under `out` (the folders FAMILY_MODELS names) and add
    them to `toml` (the tiny models.toml `inference.tiny.build_tiny_models` wrote)."""
    builders = {"flux": build_flux, "zimage": build_zimage, "sd3": build_sd3, "flux2": build_flux2}
    for folder, family in FAMILY_MODELS.values():
        torch.manual_seed(0)
        builders[family](out / folder)
    text = toml.read_text(encoding="utf-8")
    # The tiny FLUX.1 also edits (FluxKontextPipeline from its weights): a top-level key,
    # so it goes before the first table.
    edit = f'edit = "{TINY_EDIT_MODEL}"  # /edit and `nanke edit`\n'
    toml.write_text(edit + text + "\n" + models_toml_entries(), encoding="utf-8")
