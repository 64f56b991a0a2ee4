"""A tiny random SDXL refiner for tests: the real refiner's layout (only the second text
encoder, a UNet conditioned on the aesthetic score), sized to `inference.tiny.build_sdxl`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from inference.tiny import TEXT_DIM, _scheduler_config


def build_sdxl_refiner(out: Path, base: Any, seed: int = 7) -> None:
    """Save a refiner for the tiny SDXL pipeline `base` (it shares base's text_encoder_2 and
    VAE, as the real refiner shares the base's OpenCLIP bigG and VAE)."""
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLImg2ImgPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(seed)
    time_dim = 8
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM,  # text_encoder_2's hidden states alone
        attention_head_dim=8,
        norm_num_groups=32,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        # original size, crop and aesthetic score (5 numbers) instead of the base's 6
        projection_class_embeddings_input_dim=TEXT_DIM + 5 * time_dim,
    )
    pipe: Any = StableDiffusionXLImg2ImgPipeline(
        vae=base.vae,
        text_encoder=None,
        tokenizer=None,
        text_encoder_2=base.text_encoder_2,
        tokenizer_2=base.tokenizer_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_config(_scheduler_config()),
        requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False,
    )
    pipe.save_pretrained(out)
