"""Tiny random-weight models for images in (tests and offline smoke runs; they see noise):

- `controlnet-sd15-{canny,depth,lineart}/`: ControlNetModels of the tiny sd15 UNet, with their
  zero-initialised output convolutions made non-zero (a fresh ControlNet changes nothing);
- `tiny-depth/`: a DPT depth-estimation model and its image processor;
- `lineart.safetensors`: the lineart annotator network at width 8 with one residual block;
- `tiny-blip/` (BLIP captioner with a small word-piece vocabulary) and `tiny-clip/` (CLIP with
  the real BPE tokenizer) for /describe.

`build_image_models(out, pipe)` writes them and returns the models.toml sections using them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

PROJECTION_DIM = 32
# The tiny BLIP's and CLIP's vision towers: 32 px images, 16 patches.
_VISION = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}
_TOML = """
[controlnet.sd15]
canny = "controlnet-sd15-canny"
depth = "controlnet-sd15-depth"
lineart = "controlnet-sd15-lineart"

[preprocessors]
depth = "tiny-depth"
lineart = "lineart.safetensors"

[describe]
captioner = "tiny-blip"
clip = "tiny-clip"
"""
# Words the tiny captioner can say (random weights pick among them).
_WORDS = tuple(
    " ".join(
        (
            "a photo of the cat dog house tree river mountain city street car boat woman man",
            "child red blue green yellow black white small large old new sitting standing on in",
            "with near at night day sunny rainy snow field forest beach sky cloud flower garden",
            "table window",
        )
    ).split()
)


def build_controlnet(unet: Any, out: Path, seed: int) -> None:
    from diffusers import ControlNetModel

    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16, 16, 32))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            for param in module.parameters():
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
        # He-initialised, so the control map's structure survives to the residuals.
        for conv in net.controlnet_cond_embedding.modules():
            if isinstance(conv, torch.nn.Conv2d):
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(
                    torch.randn(conv.weight.shape, generator=gen) * (2 / fan_in) ** 0.5
                )
    net.save_pretrained(out)


def build_depth(out: Path) -> None:
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config_cls: Any = DPTConfig
    config = config_cls(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=4,
        backbone_out_indices=[0, 1, 2, 3],
        num_attention_heads=4,
        intermediate_size=37,
        neck_hidden_sizes=[16, 16, 32, 32],
        fusion_hidden_size=16,
        head_in_index=-1,
    )
    torch.manual_seed(5)
    DPTForDepthEstimation(config).eval().save_pretrained(out)
    processor_cls: Any = DPTImageProcessor
    processor_cls(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(out)


def build_lineart(path: Path) -> None:
    from safetensors.torch import save_file

    from inference.worker.lineart_net import LineartNet

    torch.manual_seed(6)
    net = LineartNet(width=8, blocks=1)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))


def build_blip(out: Path) -> None:
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    vocab = [*special, *_WORDS]
    tokenizer_cls: Any = BertTokenizer
    tokenizer = tokenizer_cls(vocab={w: i for i, w in enumerate(vocab)}, bos_token="[DEC]")
    config_cls: Any = BlipConfig
    config = config_cls(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "encoder_hidden_size": 32,
            "bos_token_id": vocab.index("[DEC]"),
            "pad_token_id": 0,
            "sep_token_id": vocab.index("[SEP]"),
            "eos_token_id": vocab.index("[SEP]"),
        },
        vision_config=dict(_VISION),
        projection_dim=PROJECTION_DIM,
    )
    torch.manual_seed(7)
    BlipForConditionalGeneration(config).eval().save_pretrained(out)
    image_processor_cls: Any = BlipImageProcessor
    processor = BlipProcessor(
        image_processor=image_processor_cls(size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(out)


def build_clip(out: Path, tokenizer: Any) -> None:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    config_cls: Any = CLIPConfig
    config = config_cls(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "bos_token_id": len(tokenizer) - 2,
            "eos_token_id": len(tokenizer) - 1,
            "pad_token_id": len(tokenizer) - 1,
        },
        vision_config=dict(_VISION),
        projection_dim=PROJECTION_DIM,
    )
    torch.manual_seed(8)
    CLIPModel(config).eval().save_pretrained(out)
    image_processor_cls: Any = CLIPImageProcessor
    processor = CLIPProcessor(
        image_processor=image_processor_cls(crop_size=32, size=32), tokenizer=tokenizer
    )
    processor.save_pretrained(out)


def build_image_models(out: Path, pipe: Any) -> str:
    """Write every tiny images-in model next to the tiny sd15 pipeline; the toml to add."""
    for seed, module in enumerate(("canny", "depth", "lineart"), start=20):
        build_controlnet(pipe.unet, out / f"controlnet-sd15-{module}", seed)
    build_depth(out / "tiny-depth")
    build_lineart(out / "lineart.safetensors")
    build_blip(out / "tiny-blip")
    build_clip(out / "tiny-clip", pipe.tokenizer)  # the real CLIP BPE tokenizer
    return _TOML
