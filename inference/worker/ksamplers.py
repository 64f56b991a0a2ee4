"""A1111's k-diffusion samplers, written natively as generators over a σ schedule.

Each sampler is `sample(x, sigmas, noise)`: a generator that yields `(x, σ)` wherever it needs
the model's denoised estimate D(x; σ) and is sent back `(x, D)`, x as the pipeline holds it
then (an inpainting pipeline blends the kept region into it between steps); it returns the
final sample. `noise(σ, σ_next)` gives standard normal noise shaped like x (seeded by the caller).
`inference/worker/ksampler_scheduler.py` drives a generator from a diffusers pipeline's loop,
so the UNet is called exactly as for any other scheduler.

The updates follow the papers: Euler / Heun / DPM2 (Karras et al. 2022, Algorithms 1-2 with
ODE derivative d = (x − D)/σ), ancestral steps (σ_up, σ_down split of each step),
DPM-Solver++ 2M / 2S (Lu et al. 2022, in λ = −log σ), its SDE variants (Lu et al. 2022 §5,
with η = 1), DPM++ 3M SDE (third-order multistep in λ) and Restart sampling (Xu et al. 2023)
with A1111's default restart segments; DDIM (Song et al. 2021), PLMS (Liu et al. 2022) and DDIM
CFG++ (Chung et al. 2024) as A1111's timestep samplers run them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from itertools import pairwise

import torch

NoiseFn = Callable[[float, float], torch.Tensor]
Run = Generator[tuple[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor], torch.Tensor]
Sampler = Callable[[torch.Tensor, list[float], NoiseFn], Run]


def ancestral(sigma: float, sigma_next: float, eta: float = 1.0) -> tuple[float, float]:
    """(σ_down, σ_up): step deterministically to σ_down, then add noise σ_up, reaching σ_next."""
    if not eta or sigma_next == 0:
        return sigma_next, 0.0
    up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return math.sqrt(sigma_next**2 - up**2), up


def _lerp_log(a: float, b: float) -> float:
    return math.exp((math.log(a) + math.log(b)) / 2)


def euler(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        x = x + (x - den) / s * (s_next - s)
    return x


def euler_a(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        down, up = ancestral(s, s_next)
        x = x + (x - den) / s * (down - s)
        if s_next > 0:
            x = x + noise(s, s_next) * up
    return x


def heun(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        d = (x - den) / s
        if s_next == 0:
            x = x + d * (s_next - s)
            continue
        x2 = x + d * (s_next - s)
        x2, den2 = yield x2, s_next
        x = x + (d + (x2 - den2) / s_next) / 2 * (s_next - s)
    return x


def dpm2(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        d = (x - den) / s
        if s_next == 0:
            x = x + d * (s_next - s)
            continue
        mid = _lerp_log(s, s_next)
        x2 = x + d * (mid - s)
        x2, den2 = yield x2, mid
        x = x + (x2 - den2) / mid * (s_next - s)
    return x


def dpm2_a(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        down, up = ancestral(s, s_next)
        d = (x - den) / s
        if down == 0:
            x = x + d * (down - s)
        else:
            mid = _lerp_log(s, down)
            x2 = x + d * (mid - s)
            x2, den2 = yield x2, mid
            x = x + (x2 - den2) / mid * (down - s)
        if s_next > 0:
            x = x + noise(s, s_next) * up
    return x


def dpmpp_2s_a(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        down, up = ancestral(s, s_next)
        if down == 0:
            x = x + (x - den) / s * (down - s)
        else:
            h = math.log(s) - math.log(down)  # λ_next − λ
            mid = s * math.exp(-h / 2)
            x2 = (mid / s) * x - math.expm1(-h / 2) * den
            x2, den2 = yield x2, mid
            x = (down / s) * x - math.expm1(-h) * den2
        if s_next > 0:
            x = x + noise(s, s_next) * up
    return x


def dpmpp_2m(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    old: torch.Tensor | None = None
    h_last = 0.0
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        if s_next == 0:  # the last step is first order: x = D
            x = den
            continue
        h = math.log(s) - math.log(s_next)
        est = den
        if old is not None:
            r = h_last / h
            est = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old
        x = (s_next / s) * x - math.expm1(-h) * est
        old, h_last = den, h
    return x


def dpmpp_sde(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    """DPM-Solver++ (stochastic, 2nd order single step, midpoint r = ½, η = 1)."""
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        if s_next == 0:
            x = x + (x - den) / s * (s_next - s)
            continue
        h = math.log(s) - math.log(s_next)
        mid = s * math.exp(-h / 2)
        down, up = ancestral(s, mid)
        x2 = (down / s) * x - math.expm1(math.log(down) - math.log(s)) * den
        x2 = x2 + noise(s, mid) * up
        x2, den2 = yield x2, mid
        down, up = ancestral(s, s_next)
        # (1 − 1/(2r)) D + 1/(2r) D₂ with r = ½ is D₂
        x = (down / s) * x - math.expm1(math.log(down) - math.log(s)) * den2
        x = x + noise(s, s_next) * up
    return x


def _dpmpp_2m_sde(heun_corrector: bool) -> Sampler:
    def sample(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
        old: torch.Tensor | None = None
        h_last = 0.0
        for s, s_next in pairwise(sigmas):
            x, den = yield x, s
            if s_next == 0:
                x = den
                continue
            h = math.log(s) - math.log(s_next)  # η = 1: η h = h
            phi = -math.expm1(-2 * h)
            x = (s_next / s) * math.exp(-h) * x + phi * den
            if old is not None:
                r = h_last / h
                if heun_corrector:
                    x = x + (phi / (-2 * h) + 1) * (1 / r) * (den - old)
                else:
                    x = x + 0.5 * phi * (1 / r) * (den - old)
            x = x + noise(s, s_next) * s_next * math.sqrt(phi)
            old, h_last = den, h
        return x

    return sample


def dpmpp_3m_sde(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    den_1: torch.Tensor | None = None
    den_2: torch.Tensor | None = None
    h_1 = h_2 = 0.0
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        if s_next == 0:
            x = den
            continue
        h = math.log(s) - math.log(s_next)
        h_eta = 2 * h  # η = 1
        x = math.exp(-h_eta) * x - math.expm1(-h_eta) * den
        phi_2 = math.expm1(-h_eta) / h_eta + 1
        if den_2 is not None and den_1 is not None:
            r0, r1 = h_1 / h, h_2 / h
            d1_0, d1_1 = (den - den_1) / r0, (den_1 - den_2) / r1
            d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
            d2 = (d1_0 - d1_1) / (r0 + r1)
            x = x + phi_2 * d1 - (phi_2 / h_eta - 0.5) * d2
        elif den_1 is not None:
            x = x + phi_2 * (den - den_1) / (h_1 / h)
        x = x + noise(s, s_next) * s_next * math.sqrt(-math.expm1(-2 * h))
        den_1, den_2, h_1, h_2 = den, den_1, h, h_1
    return x


def restart_segments(sigmas: list[float]) -> list[tuple[float, float]]:
    """The (σ, σ_next) Heun steps of Restart sampling with A1111's defaults: under 20 steps,
    none restart; else the main path is a Karras schedule of n − k·K steps, and from the σ
    nearest 0.1 it jumps back up to the σ nearest 2 and re-descends (k steps, K times)."""
    steps = len(sigmas) - 1
    if steps < 20:
        return list(pairwise(sigmas))
    k, times = (steps // 4, 2) if steps >= 36 else (9, 1)
    lo, hi = sigmas[-2], sigmas[0]
    main = [*_karras_list(steps - k * times, lo, hi), 0.0]
    at = min(range(len(main)), key=lambda i: abs(main[i] - 0.1))
    top = min(range(len(main)), key=lambda i: abs(main[i] - 2.0))
    out: list[tuple[float, float]] = []
    for i in range(len(main) - 1):
        out.append((main[i], main[i + 1]))
        if i + 1 == at and top < at:
            again = _karras_list(k + 1, main[at], main[top])
            for _ in range(times):
                out.extend(pairwise(again))
    return out


def _karras_list(n: int, lo: float, hi: float, rho: float = 7.0) -> list[float]:
    a, b = hi ** (1 / rho), lo ** (1 / rho)
    ramp = torch.linspace(0, 1, n)
    return [float(v) for v in (a + ramp * (b - a)) ** rho]


def restart(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    last: float | None = None
    for s, s_next in restart_segments(sigmas):
        if last is not None and last < s:  # a restart: noise back up from `last` to s
            x = x + noise(last, s) * math.sqrt(s**2 - last**2)
        x, den = yield x, s
        d = (x - den) / s
        if s_next == 0:
            x = x + d * (s_next - s)
        else:
            x2 = x + d * (s_next - s)
            x2, den2 = yield x2, s_next
            x = x + (d + (x2 - den2) / s_next) / 2 * (s_next - s)
        last = s_next
    return x


def dpm_fast(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    """DPM-Solver (Lu et al. 2022, §3.3-3.4: orders 3, 3, …, then 2 and 1 or the rest, on
    steps uniform in λ = −log σ) with n model calls from σ_max = sigmas[0] to σ_min =
    sigmas[-2] (A1111 passes the model's range, or the img2img tail's), η = 1 (A1111's
    default): each step lands on σ_down and adds noise up to its σ."""
    n = len(sigmas) - 1
    lam_end = -math.log(sigmas[-2])
    m = n // 3 + 1
    lams = [-math.log(sigmas[0]) + i / m * (lam_end + math.log(sigmas[0])) for i in range(m + 1)]
    orders = [3] * (m - 2) + [2, 1] if n % 3 == 0 else [3] * (m - 1) + [n % 3]

    def sig(lam: float) -> float:
        return math.exp(-lam)

    for lam, lam_next, order in zip(lams, lams[1:], orders, strict=False):
        down, _ = ancestral(sig(lam), sig(lam_next))
        target = min(lam_end, -math.log(down))
        up = math.sqrt(max(sig(lam_next) ** 2 - sig(target) ** 2, 0.0))
        x, den = yield x, sig(lam)
        eps = (x - den) / sig(lam)
        h = target - lam
        if order == 1:
            x = x - sig(target) * math.expm1(h) * eps
        elif order == 2:
            s1 = lam + h / 2
            u1 = x - sig(s1) * math.expm1(h / 2) * eps
            u1, den1 = yield u1, sig(s1)
            eps1 = (u1 - den1) / sig(s1)
            x = x - sig(target) * math.expm1(h) * eps - sig(target) * math.expm1(h) * (eps1 - eps)
        else:
            r1, r2 = 1 / 3, 2 / 3
            s1, s2 = lam + r1 * h, lam + r2 * h
            u1 = x - sig(s1) * math.expm1(r1 * h) * eps
            u1, den1 = yield u1, sig(s1)
            eps1 = (u1 - den1) / sig(s1)
            phi = math.expm1(r2 * h) / (r2 * h) - 1
            u2 = x - sig(s2) * math.expm1(r2 * h) * eps - sig(s2) * (r2 / r1) * phi * (eps1 - eps)
            u2, den2 = yield u2, sig(s2)
            eps2 = (u2 - den2) / sig(s2)
            phi_h = math.expm1(h) / h - 1
            x = x - sig(target) * math.expm1(h) * eps - sig(target) / r2 * phi_h * (eps2 - eps)
        if up > 0:
            x = x + noise(sig(lam), sig(lam_next)) * up
    return x


def ddim(
    x: torch.Tensor,
    sigmas: list[float],
    noise: NoiseFn,
    uncond: Callable[[], torch.Tensor | None] = lambda: None,
) -> Run:
    """A1111's DDIM (η = 0) and, given `uncond`, its "DDIM CFG++" (Chung et al. 2024): the
    guided estimate D (for CFG++ at the CFG scale × 1/12.5, applied by the caller) gives x̂₀,
    and the renoising direction comes from D itself or, for CFG++, from the unconditional
    D_u = `uncond()` (None: no unconditional pass, plain DDIM). In σ form DDIM is
    x' = x̂₀ + σ' ε. `sigmas` are A1111's DDIM timesteps, which end at t = 1, not at σ = 0;
    the result is on the model's own scale (x / √(σ² + 1)), where A1111's DDIM leaves it."""
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        den_u = uncond()
        x = den + (x - (den if den_u is None else den_u)) / s * s_next
    return x / math.sqrt(sigmas[-1] ** 2 + 1)


def plms(x: torch.Tensor, sigmas: list[float], noise: NoiseFn) -> Run:
    """A1111's PLMS on DDIM's timesteps: the first step is a pseudo improved Euler (two model
    calls, ε averaged), the next ones pseudo linear multistep (Adams-Bashforth of order 2, 3,
    then 4 on the past ε); each moves x by (σ' − σ) ε', DDIM's update in σ form."""
    old: list[torch.Tensor] = []
    for s, s_next in pairwise(sigmas):
        x, den = yield x, s
        eps = (x - den) / s
        if not old:
            x2, den2 = yield x + (s_next - s) * eps, s_next
            step = (eps + (x2 - den2) / s_next) / 2
        elif len(old) == 1:
            step = (3 * eps - old[-1]) / 2
        elif len(old) == 2:
            step = (23 * eps - 16 * old[-1] + 5 * old[-2]) / 12
        else:
            step = (55 * eps - 59 * old[-1] + 37 * old[-2] - 9 * old[-3]) / 24
        x = x + (s_next - s) * step
        old = [*old[-2:], eps]
    return x / math.sqrt(sigmas[-1] ** 2 + 1)


SAMPLE: dict[str, Sampler] = {
    "euler": euler,
    "euler_a": euler_a,
    "heun": heun,
    "dpm2": dpm2,
    "dpm2_a": dpm2_a,
    "dpm++_2s_a": dpmpp_2s_a,
    "dpm++_2m": dpmpp_2m,
    "dpm++_sde": dpmpp_sde,
    "dpm++_2m_sde": _dpmpp_2m_sde(heun_corrector=False),
    "dpm++_2m_sde_heun": _dpmpp_2m_sde(heun_corrector=True),
    "dpm++_3m_sde": dpmpp_3m_sde,
    "restart": restart,
    "dpm_fast": dpm_fast,
    "ddim": ddim,
    "pndm": plms,
    "ddim_cfgpp": ddim,  # with the unconditional estimate (KDiffusionScheduler.needs_uncond)
}
# The factor A1111 applies to the CFG scale for a sampler (CFG++ guides with λ = scale / 12.5,
# A1111's map of 0 … 12.5 onto the paper's 0 … 1).
CFG_MULTIPLIER = {"ddim_cfgpp": 1 / 12.5}
# Samplers on A1111's DDIM timesteps (1, 1 + T//n, …) rather than on a σ schedule.
ON_DDIM_TIMESTEPS = frozenset({"ddim", "pndm", "ddim_cfgpp"})
# A1111 computes one more step and drops the next-to-last σ for these.
DISCARD_PENULTIMATE = frozenset({"dpm2", "dpm2_a", "dpm++_3m_sde"})
