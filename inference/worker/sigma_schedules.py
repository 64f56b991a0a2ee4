"""Noise levels (σ) for the native samplers: the model's discrete σ table and A1111's
"Schedule type"s over it (Uniform, Karras, Exponential, Polyexponential, SGM Uniform, KL Optimal,
Align Your Steps, Simple, Normal, DDIM, Beta).

A model trained with ᾱ_t (t = 0 … T−1) has σ_t = √((1 − ᾱ_t) / ᾱ_t). Between table entries,
σ is interpolated linearly in log σ, and a σ maps back to a fractional timestep the same way
(Karras et al. 2022, "Elucidating the Design Space…", the discrete-model wrapper). Every
schedule returns n + 1 decreasing σ, the last one 0 (KL Optimal ends at σ_min, as A1111's).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

# NVIDIA's published Align Your Steps σ for 10 steps (Sabour et al. 2024, the "how to" page).
AYS_SD15 = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)
AYS_SDXL = (14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029)
BETA_ALPHA = BETA_BETA = 0.6  # A1111's defaults for the Beta schedule (Lee et al. 2024)


class ModelSigmas:
    """The discrete σ table of a model (increasing with t) and the t ↔ σ maps."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        ac = alphas_cumprod.to(torch.float32)
        self.sigmas = ((1 - ac) / ac) ** 0.5
        self.log_sigmas = self.sigmas.log()

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        t = t.float()
        low, high = t.floor().long(), t.ceil().long()
        w = t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        log_sigma = sigma.float().log()
        dists = log_sigma - self.log_sigmas[:, None]
        low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=self.log_sigmas.shape[0] - 2)
        lo, hi = self.log_sigmas[low], self.log_sigmas[low + 1]
        w = ((lo - log_sigma) / (lo - hi)).clamp(0, 1)
        return ((1 - w) * low + w * (low + 1)).view(sigma.shape)


def _zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas.float(), sigmas.new_zeros(1)])


def uniform(n: int, m: ModelSigmas) -> torch.Tensor:
    """σ at n timesteps spaced evenly from T−1 down to 0."""
    t_max = len(m.sigmas) - 1
    return _zero(m.t_to_sigma(torch.linspace(t_max, 0, n)))


def karras(n: int, m: ModelSigmas, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022) eq. 5: σ_i = (σ_max^(1/ρ) + i/(n−1) (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ."""
    ramp = torch.linspace(0, 1, n)
    lo, hi = m.sigma_min ** (1 / rho), m.sigma_max ** (1 / rho)
    return _zero((hi + ramp * (lo - hi)) ** rho)


def exponential(n: int, m: ModelSigmas) -> torch.Tensor:
    """Evenly spaced in log σ."""
    return _zero(torch.linspace(math.log(m.sigma_max), math.log(m.sigma_min), n).exp())


def polyexponential(n: int, m: ModelSigmas, rho: float = 1.0) -> torch.Tensor:
    """log σ = log σ_min + (1 − i/(n−1))^ρ (log σ_max − log σ_min)."""
    ramp = torch.linspace(1, 0, n) ** rho
    lo, hi = math.log(m.sigma_min), math.log(m.sigma_max)
    return _zero((ramp * (hi - lo) + lo).exp())


def normal(n: int, m: ModelSigmas, sgm: bool = False) -> torch.Tensor:
    """Evenly spaced in (fractional) timestep between σ_max's and σ_min's; SGM Uniform drops
    the last of n + 1 points instead of ending on σ_min."""
    start = float(m.sigma_to_t(torch.tensor(m.sigma_max)))
    end = float(m.sigma_to_t(torch.tensor(m.sigma_min)))
    t = torch.linspace(start, end, n + 1)[:-1] if sgm else torch.linspace(start, end, n)
    return _zero(m.t_to_sigma(t))


def sgm_uniform(n: int, m: ModelSigmas) -> torch.Tensor:
    return normal(n, m, sgm=True)


def kl_optimal(n: int, m: ModelSigmas) -> torch.Tensor:
    """Sabour et al. (2024): σ_i = tan((1 − i/n) atan σ_max + (i/n) atan σ_min), i = 0 … n."""
    frac = torch.arange(n + 1, dtype=torch.float32) / n
    return torch.tan(frac * math.atan(m.sigma_min) + (1 - frac) * math.atan(m.sigma_max))


def align_your_steps(n: int, m: ModelSigmas, sdxl: bool = False) -> torch.Tensor:
    """The published 10-step σ, log-linearly interpolated to n steps."""
    table = np.array(AYS_SDXL if sdxl else AYS_SD15)
    if n != len(table):
        xs = np.linspace(0, 1, len(table))
        ys = np.log(table[::-1])
        table = np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1].copy()
    return _zero(torch.tensor(table, dtype=torch.float32))


def simple(n: int, m: ModelSigmas) -> torch.Tensor:
    """Every (T/n)-th entry of the σ table, from the top."""
    stride = len(m.sigmas) / n
    return _zero(torch.stack([m.sigmas[-(1 + int(i * stride))] for i in range(n)]))


def ddim(n: int, m: ModelSigmas) -> torch.Tensor:
    """The σ table at DDIM's timesteps 1, 1 + T//n, … (from the top)."""
    stride = max(len(m.sigmas) // n, 1)
    return _zero(m.sigmas[1::stride].flip(0))


def a1111_ddim_timesteps(n: int, total: int) -> list[int]:
    """A1111's DDIM timesteps (≥ 1.6: DDIM, PLMS and DDIM CFG++ run on them): 1, 1 + T//n, …
    up to T − 1, ascending. When T//n does not divide T there are more than n of them."""
    stride = max(total // n, 1)
    timesteps = [min(t + 1, total - 1) for t in range(0, total, stride)]
    # One step would be the single timestep 1 and no model call at all: A1111 returns the
    # noise; one call from the top is what a member asking for one step means.
    return timesteps if len(timesteps) > 1 else [1, total - 1]


def beta(n: int, m: ModelSigmas) -> torch.Tensor:
    """Lee et al. (2024): timesteps at quantiles of Beta(0.6, 0.6), σ linear in them."""
    from scipy import stats

    quantiles = stats.beta.ppf(1 - np.linspace(0, 1, n), BETA_ALPHA, BETA_BETA)
    lo, hi = m.sigma_min, m.sigma_max
    return _zero(torch.tensor([lo + q * (hi - lo) for q in quantiles], dtype=torch.float32))


SCHEDULE_FUNCTIONS: dict[str, Callable[[int, ModelSigmas], torch.Tensor]] = {
    "uniform": uniform,
    "karras": karras,
    "exponential": exponential,
    "polyexponential": polyexponential,
    "sgm_uniform": sgm_uniform,
    "kl_optimal": kl_optimal,
    "simple": simple,
    "normal": normal,
    "ddim": ddim,
    "beta": beta,
}


def schedule_sigmas(
    schedule: str, n: int, m: ModelSigmas, *, sdxl: bool = False, discard_penultimate: bool = False
) -> torch.Tensor:
    """n steps of `schedule` (n + 1 σ). `discard_penultimate` (A1111's DPM2, DPM2 a, DPM++ 3M
    SDE): compute n + 1 steps and drop the next-to-last σ, so n steps remain."""
    steps = n + 1 if discard_penultimate else n
    if schedule == "align_your_steps":
        sigmas = align_your_steps(steps, m, sdxl)
    else:
        sigmas = SCHEDULE_FUNCTIONS[schedule](steps, m)
    if discard_penultimate:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas
