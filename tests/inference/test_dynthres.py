"""`--dynthres P:M`: dynamic thresholding as A1111's "CFG Scale Fix" extension does it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from inference.infotext import parse_infotext
from inference.worker.dynthres import dynamic_threshold
from prompt.request import DynThres
from tests.inference.engine_helpers import pixels, spec


def _range(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    return (flat - flat.mean(dim=2, keepdim=True)).abs().max(dim=2).values


def test_the_extension_rule_on_denoised_latents() -> None:
    gen = torch.Generator().manual_seed(0)
    x0_u = torch.randn(2, 4, 8, 8, generator=gen)
    x0_c = x0_u + 0.3 * torch.randn(2, 4, 8, 8, generator=gen)
    cfg = lambda g: x0_u + g * (x0_c - x0_u)  # noqa: E731
    # Mimic scale equal to the CFG scale: plain CFG.
    same = dynamic_threshold(x0_u, x0_c, 12.0, DynThres(percentile=99.5, mimic=12.0))
    assert torch.allclose(same, cfg(12.0), atol=1e-5)
    # CFG 30 with mimic 7: the range of CFG 7, per channel; plain CFG 30 is far wider.
    fixed = dynamic_threshold(x0_u, x0_c, 30.0, DynThres(percentile=100, mimic=7.0))
    assert torch.allclose(_range(fixed), _range(cfg(7.0)), rtol=1e-5)
    assert bool((_range(cfg(30.0)) > 2 * _range(cfg(7.0))).all())
    # and the means of CFG 30 are kept (only the spread is renormalised).
    assert torch.allclose(fixed.mean(dim=(2, 3)), cfg(30.0).mean(dim=(2, 3)), atol=1e-4)


def test_dynthres_in_the_engine(registry: Any, engine: Any) -> None:
    def run(cfg: float, dyn: DynThres | None = None) -> tuple[np.ndarray, float, str]:
        peaks: list[float] = []

        def progress(step: int, total: int, latents: Any) -> None:
            if latents is not None:
                peaks.append(float(latents.float().abs().max()))

        out = engine.run(spec(registry, steps=6, cfg=cfg, dynthres=dyn), on_progress=progress)
        return pixels(out), max(peaks), out.infotexts[0]

    plain7, peak7, _ = run(7)
    mimic7, _, text = run(7, DynThres(percentile=99.5, mimic=7))
    assert np.abs(plain7 - mimic7).max() <= 1, "mimic scale = CFG scale is plain CFG"
    info = parse_infotext(text).params
    assert info["Dynamic thresholding enabled"] == "True"
    assert (info["Mimic scale"], info["Threshold percentile"]) == ("7", "99.5")
    _, peak30, _ = run(30)
    _, fixed30, _ = run(30, DynThres(percentile=99.5, mimic=7))
    # Measured on the preview latents: CFG 30 overshoots CFG 7's range, the fix stays in it.
    assert peak30 > 1.1 * peak7 and fixed30 <= 1.0 * peak7


@pytest.mark.parametrize("old", [{}, {"dynthres": None}])
def test_jobs_stored_before_dynthres_still_load(registry: Any, old: dict[str, Any]) -> None:
    from pipeline.contracts import JobSpec

    stored = spec(registry).model_dump(mode="json")
    stored["generation"].pop("dynthres")
    stored["generation"].update(old)
    assert JobSpec.model_validate(stored).generation.dynthres is None
