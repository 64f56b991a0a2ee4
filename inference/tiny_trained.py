"""A tiny text-to-image model that knows something, trained on the CPU in about six minutes.

`build_trained_models(dir)` trains, with fixed seeds, on the shapes of `inference.tiny_shapes`:
1. a small AutoencoderKL (64 px ↔ 16×16×4 latents, 4x downscale) that reconstructs them,
   corners and colours;
2. a UNet2DConditionModel (cross-attention, and the caption pooled into the time embedding)
   on a frozen 2-layer CLIP text encoder (the real CLIP BPE tokenizer), on the standard SD 1.5
   noise schedule, epsilon prediction, with captions dropped 10 % of the time so
   classifier-free guidance works;
3. a LoRA (`loras/green.safetensors`, diffusers/peft format) that turns every shape green;
and saves them in the diffusers layout with a models.toml, so Nanke loads the model exactly
like a real SD 1.5 checkpoint. `TRAINING_SOURCES` lists the files whose text keys the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from inference import tiny_shapes
from inference.tiny import clip_tokenizer, text_encoder

TEXT_DIM = 32
STEPS = 20  # the model's default steps in models.toml
VAE_STEPS = 600
VAE_CROP_STEPS = 402  # the first two thirds, on 32 px crops
VAE_COLOUR_PROBE = 0.3  # weight of the colour probe's L1 (train_vae)
UNET_STEPS = 1300
UNET_BATCH = 32
UNET_LR = 3e-3
LORA_STEPS = 150
LORA_LR = 2e-2
# The attention projections and the caption's projection into the time embedding.
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "add_embedding.proj"]
DATASET = 2048
EMA_DECAY = 0.985
TRAINING_SOURCES = (Path(__file__), Path(tiny_shapes.__file__))

Progress = Callable[[str, int, int, float], None]  # (stage, step, of steps, loss)

_MODELS_TOML = """\
# Tiny models trained on coloured shapes by `nanke make-tiny-models --trained`: they paint
# what the prompt says (e.g. "a red circle", "a blue square on the left on a black background").
lora_dir = "loras"

[[models]]
name = "shapes"
source = "shapes-sd15"
family = "sd15"
default_steps = {steps}
base_size = 64
default = true
"""
# The words of the captions: the frozen text encoder gives each an orthogonal embedding.
_WORDS = "a on the at left right top bottom background " + " ".join(
    [*tiny_shapes.COLOURS, *tiny_shapes.SHAPES, *tiny_shapes.BACKGROUNDS]
)
_WORD_NORM = 3.0  # token embeddings this long dominate the random layers above them


def _vae() -> Any:
    """64 px pictures <-> 16x16x4 latents (4x downscale; at 8x the corners of squares and
    triangles are lost)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=tiny_shapes.SIZE,
        mid_block_add_attention=False,
    )


def _unet() -> Any:
    """16x16 -> 8x8 -> 4x4 latents; cross-attention only at 4x4 and in the mid block (the 8x8
    transformer cost 2.4x a step). The caption also reaches every ResNet through the time
    embedding: `addition_embed_type="text"` pools the text encoder's hidden states into it
    (diffusers' TextTimeEmbedding, which needs nothing but `encoder_hidden_states`, so the
    unmodified SD pipelines drive it), applied as a scale and shift of each group norm."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=tiny_shapes.SIZE // 4,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=8,
        addition_embed_type="text",
        addition_embed_type_num_heads=4,
        resnet_time_scale_shift="scale_shift",
    )


def _text_encoder(tokenizer: Any) -> Any:
    """A frozen, randomly initialised 2-layer CLIP text encoder whose caption words have
    orthogonal token embeddings (so its features tell "red" from "blue" without training) and
    whose final layer norm is biased like a trained one (`inference.tiny.text_encoder`)."""
    encoder = text_encoder(len(tokenizer), layers=2)
    ids = sorted({i for word in _WORDS.split() for i in tokenizer(word).input_ids})
    gen = torch.Generator().manual_seed(7)
    basis, _ = torch.linalg.qr(torch.randn(TEXT_DIM, TEXT_DIM, generator=gen))
    with torch.no_grad():
        table = encoder.text_model.embeddings.token_embedding.weight
        table[ids] = basis[: len(ids)] * _WORD_NORM
    return encoder.eval().requires_grad_(False)


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
        "skip_prk_steps": True,
    }


def train_vae(images: torch.Tensor, progress: Progress) -> Any:
    """Reconstruct the shapes with their corners, each latent pixel keeping its colour.

    L1 weighted towards the shape's pixels (a picture is mostly background); the first
    two thirds of the steps on 32 px crops at full scale (a quarter of the cost; half-size
    pictures instead rounded the corners: a third of the squares came back as circles); and a
    linear probe from each latent pixel to the picture's 4x4 mean colour, trained alongside
    and then dropped: it keeps colours apart in the latent space, as in SD's latents. Without
    it red and yellow, green and blue shared latents inside a shape, and the UNet swapped them.
    """
    vae = _vae()
    with torch.no_grad():  # start with a narrow posterior: the decoder sees the latent, not noise
        vae.quant_conv.bias[4:] = -8.0
    probe = torch.nn.Conv2d(4, 3, 1)
    params = [*vae.parameters(), *probe.parameters()]
    opt = torch.optim.AdamW(params, lr=4e-3, fused=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=VAE_STEPS)
    gen = torch.Generator().manual_seed(1)
    crop = tiny_shapes.SIZE // 2
    for step in range(VAE_STEPS):
        batch = images[torch.randint(len(images), (8,), generator=gen)]
        shape = (batch - batch[:, :, :1, :1]).abs().sum(1, keepdim=True) > 0.1  # corner = bg
        weight = 1.0 + 6.0 * shape.float()
        if step < VAE_CROP_STEPS:  # a crop on the latent grid (4 px)
            i, j = torch.randint(0, tiny_shapes.SIZE - crop + 1, (2,), generator=gen).tolist()
            i, j = i // 4 * 4, j // 4 * 4
            batch = batch[:, :, i : i + crop, j : j + crop]
            weight = weight[:, :, i : i + crop, j : j + crop]
        posterior = vae.encode(batch).latent_dist
        recon = vae.decode(posterior.sample(generator=gen)).sample
        loss = ((recon - batch).abs() * weight).mean() / weight.mean()
        colour = (probe(posterior.mean) - F.avg_pool2d(batch, 4)).abs().mean()
        opt.zero_grad()
        (loss + VAE_COLOUR_PROBE * colour).backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == VAE_STEPS - 1:
            progress("vae", step + 1, VAE_STEPS, loss.item())
    return vae.eval()


def _encode_latents(vae: Any, images: torch.Tensor, rescale: bool = True) -> torch.Tensor:
    with torch.no_grad():
        latents = torch.cat([vae.encode(chunk).latent_dist.mean for chunk in images.split(256)])
    if rescale:  # as in SD: latents of unit variance; the pipeline divides by this to decode
        vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return latents * vae.config.scaling_factor


def _embed(encoder: Any, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    """The frozen encoder's hidden states for each text, each distinct caption encoded once."""
    distinct = sorted(set(texts))
    ids = tokenizer(
        distinct, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids
    with torch.no_grad():
        states = torch.cat([encoder(chunk)[0] for chunk in ids.split(128)])
    row = {text: i for i, text in enumerate(distinct)}
    return states[torch.tensor([row[t] for t in texts])]


def _timesteps(n: int, gen: torch.Generator) -> torch.Tensor:
    """Uniform: drawn towards high noise (1000·u^0.6), the UNet learnt the colour but painted
    every shape as a round blob; the shapes are decided at middle noise levels."""
    return (torch.rand(n, generator=gen) * 1000).long().clamp(max=999)


def _early_timesteps(n: int, gen: torch.Generator) -> torch.Tensor:
    """Biased towards high noise, where the colour is decided (the green LoRA's job)."""
    u = torch.rand(n, generator=gen)
    return (u**0.6 * 1000).long().clamp(max=999)


def _min_snr_weights(noise_sched: Any, t: torch.Tensor, gamma: float = 5.0) -> torch.Tensor:
    alpha = noise_sched.alphas_cumprod[t]
    snr = alpha / (1 - alpha)
    return snr.clamp(max=gamma) / snr


def train_unet(latents: torch.Tensor, cond: torch.Tensor, progress: Progress) -> Any:
    """Epsilon prediction on the SD 1.5 schedule with min-SNR weighting, on precomputed text
    features (the text encoder is frozen); returns the exponential moving average of the
    weights, which paints far cleaner than the last step's after so short a run."""
    import copy

    from diffusers import DDPMScheduler

    unet = _unet()
    ema = copy.deepcopy(unet).requires_grad_(False)
    noise_sched = DDPMScheduler.from_config(_scheduler_config())
    opt = torch.optim.AdamW(unet.parameters(), lr=UNET_LR, weight_decay=0.0, fused=True)
    # A short warm-up, then constant: the moving average does the annealing.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 20))
    gen = torch.Generator().manual_seed(2)
    for step in range(UNET_STEPS):
        idx = torch.randint(len(latents), (UNET_BATCH,), generator=gen)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = _timesteps(len(idx), gen)
        noisy = noise_sched.add_noise(x0, noise, t)
        err = (unet(noisy, t, cond[idx]).sample - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (err * _min_snr_weights(noise_sched, t)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), unet.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        if step % 100 == 0 or step == UNET_STEPS - 1:
            progress("unet", step + 1, UNET_STEPS, loss.item())
    return ema.eval()


def train_green_lora(
    unet: Any, encoder: Any, vae: Any, tokenizer: Any, out: Path, progress: Progress
) -> None:
    """A rank-4 LoRA on the UNet's attention that paints every shape green, whatever colour
    the prompt names; saved in diffusers/peft format, as `save_lora_weights` writes it."""
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    arrays, pictures = tiny_shapes.dataset(512, seed=3, colour="green")
    latents = _encode_latents(vae, torch.from_numpy(arrays), rescale=False)
    texts = tiny_shapes.captions(pictures, seed=4, drop_colour=0.3, drop_all=0.0)
    cond = _embed(encoder, tokenizer, texts)
    unet.requires_grad_(False)  # only the adapter learns
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGETS),
        adapter_name="green",
    )
    noise_sched = DDPMScheduler.from_config(_scheduler_config())
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LORA_LR, fused=True)
    gen = torch.Generator().manual_seed(5)
    for step in range(LORA_STEPS):
        idx = torch.randint(len(latents), (32,), generator=gen)
        noise = torch.randn(latents[idx].shape, generator=gen)
        t = _early_timesteps(len(idx), gen)
        noisy = noise_sched.add_noise(latents[idx], noise, t)
        loss = F.mse_loss(unet(noisy, t, cond[idx]).sample, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0 or step == LORA_STEPS - 1:
            progress("lora", step + 1, LORA_STEPS, loss.item())
    layers = get_peft_model_state_dict(unet, adapter_name="green")
    StableDiffusionPipeline.save_lora_weights(
        str(out), unet_lora_layers=layers, weight_name="green.safetensors", safe_serialization=True
    )
    unet.delete_adapters("green")


def build_trained_models(out: Path, progress: Progress | None = None) -> Path:
    """Train everything (fixed seeds) and write it under `out`; returns the models.toml path."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline

    report: Progress = progress or (lambda *_: None)
    torch.manual_seed(0)
    arrays, pictures = tiny_shapes.dataset(DATASET, seed=0)
    images = torch.from_numpy(arrays)
    vae = train_vae(images, report)
    latents = _encode_latents(vae, images)
    texts = tiny_shapes.captions(pictures, seed=1, drop_colour=0.15, drop_all=0.1)
    tokenizer = clip_tokenizer()
    # Reseed: the text encoder's and the UNet's initial weights do not depend on how the VAE
    # trained (a VAE change would otherwise also redraw them: the UNet's result varies by seed).
    torch.manual_seed(0)
    encoder = _text_encoder(tokenizer)
    unet = train_unet(latents, _embed(encoder, tokenizer, texts), report)
    pipe: Any = StableDiffusionPipeline(
        vae=vae,
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=PNDMScheduler.from_config(_scheduler_config()),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out / "shapes-sd15")
    (out / "loras").mkdir(exist_ok=True)
    train_green_lora(unet, encoder, vae, tokenizer, out / "loras", report)
    toml = out / "models.toml"
    toml.write_text(_MODELS_TOML.format(steps=STEPS), encoding="utf-8")
    return toml
