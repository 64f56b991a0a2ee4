"""--rescale (CFG rescale φ) against diffusers' own guidance_rescale."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from inference.infotext import parse_infotext
from inference.worker.guided_unet import rescaled
from tests.inference.engine_helpers import diff, pixels, spec


def test_rescaled_prediction_gives_diffusers_rescale_after_cfg() -> None:
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    gen = torch.Generator().manual_seed(0)
    u, c = torch.randn(2, 4, 8, 8, generator=gen), torch.randn(2, 4, 8, 8, generator=gen) * 2
    ours = u + 7.5 * (rescaled(u, c, 7.5, 0.7) - u)
    theirs = rescale_noise_cfg(u + 7.5 * (c - u), c, guidance_rescale=0.7)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_rescale_matches_the_diffusers_pipeline_and_is_written(registry: Any, engine: Any) -> None:
    job = spec(registry, "a red fox", rescale=0.7, cfg=9.0, steps=3, negative_prompt="blurry")
    out = engine.run(job)
    assert parse_infotext(out.infotexts[0]).params["CFG Rescale"] == "0.7"
    plain = engine.run(spec(registry, "a red fox", cfg=9.0, steps=3, negative_prompt="blurry"))
    assert "CFG Rescale" not in plain.infotexts[0]
    assert diff(out, plain) > 0.2
    # The same job straight through diffusers, with its guidance_rescale.
    from inference.worker.prompt_encoding import encode_prompt
    from inference.worker.vae_decode import decode_latents
    from prompt.request import PromptPart

    pipe = engine.pipelines.model("tiny").base  # its scheduler is the job's, as it ran
    gen = job.generation
    with torch.inference_mode():
        enc = encode_prompt(pipe_encoders(pipe), (PromptPart(text="a red fox"),), "blurry")
        latents = pipe(
            prompt_embeds=enc.cond,
            negative_prompt_embeds=enc.uncond,
            num_inference_steps=3,
            guidance_scale=9.0,
            guidance_rescale=0.7,
            width=gen.width,
            height=gen.height,
            generator=[torch.Generator().manual_seed(gen.seed)],
            output_type="latent",
        ).images
        images = decode_latents(pipe, "sd15", latents, engine.dtype)
    theirs = np.stack([np.asarray(img, dtype=np.int16) for img in images])
    assert diff(pixels(out), theirs) < 0.5


def pipe_encoders(pipe: Any) -> list[tuple[Any, Any]]:
    return [(pipe.tokenizer, pipe.text_encoder)]
