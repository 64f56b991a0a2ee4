"""A request meets a family: what does not apply is refused (naming the family) or translated
with a one-line note, before anything is charged (docs/engine.md "Model families").

The Stable Diffusion families take every flag. The T5/LLM-encoder families (flux, zimage, sd3,
flux2) read the prompt as written: A1111 attention weights and BREAK are removed with a note
(never encoded as text); `::` parts, AND, prompt editing, clip skip, tile, CFG rescale and
dynamic thresholding are refused; samplers are the flow-matching ones. On distilled families
(CFG ≈ 1) `--cfg` and a negative prompt have no effect, which a note says.
"""

from __future__ import annotations

from inference.errors import BadRequestError
from inference.families.spec import FLOW_SAMPLERS, FamilySpec
from inference.prompt_weights import BREAK, parse_attention
from prompt.request import Generation, ImagineParams
from prompt.samplers import split_schedule
from prompt.schedules import has_and, is_scheduled

_NO_CACHE = (
    "its model has no cache accelerator in Nanke (First-Block-Cache and TaylorSeer run on "
    "the flux and flux2 families)"
)


def _refuse(spec: FamilySpec, what: str, why: str) -> BadRequestError:
    return BadRequestError(f"{what} is not available on {spec.title} (family `{spec.name}`): {why}")


def plain_prompt(prompt: str) -> str:
    """The words of an A1111-weighted prompt without the weights; BREAK becomes a comma."""
    pieces = [
        ", " if text == BREAK and weight == -1.0 else text
        for text, weight in parse_attention(prompt)
    ]
    return " ".join("".join(pieces).split()).replace(" ,", ",").strip(", ")


def _check_flags(spec: FamilySpec, params: ImagineParams, gen: Generation) -> None:
    encoder = "T5" if spec.text_encoder == "t5" else "an LLM text encoder"
    if len(gen.parts) > 1:
        raise _refuse(spec, "`::` multi-prompts", f"it reads the prompt with {encoder}, not CLIP")
    if has_and(gen.prompt) or is_scheduled(gen.prompt):
        raise _refuse(spec, "AND and prompt editing ([a:b:0.5], [a|b])", "they are CLIP features")
    if params.clip_skip is not None:
        raise _refuse(spec, "--clip-skip", f"it reads the prompt with {encoder}, not CLIP")
    if gen.tile:
        raise _refuse(
            spec, "--tile", "seamless tiling pads UNet convolutions; this is a transformer"
        )
    if gen.rescale:
        raise _refuse(spec, "--rescale (CFG rescale)", "it is for v-prediction UNets")
    if gen.dynthres is not None:
        raise _refuse(spec, "--dynthres", "dynamic thresholding is for CFG on UNets")
    if gen.loras and not spec.has_loras:
        raise _refuse(spec, "LoRAs", "Nanke does not load LoRAs for this family yet")
    if params.sampler is not None and flow_sampler(spec, params.sampler) is None:
        names = ", ".join(f"{n} ({FLOW_SAMPLERS[n].label})" for n in spec.flow_samplers)
        raise _refuse(
            spec, f"the sampler {params.sampler}", f"it is a flow-matching model; use {names}"
        )


def flow_sampler(spec: FamilySpec, name: str) -> str | None:
    """The flow sampler a member's sampler name means on this family, or None. The parser
    writes A1111's automatic schedule into the name (`dpm++_2m` → `dpm++_2m_karras`); flow
    samplers have one schedule (the model's shifted sigmas), so only the sampler counts."""
    base = split_schedule(name)[0]
    return base if base in spec.flow_samplers else None


def fit_to_family(
    spec: FamilySpec, params: ImagineParams, gen: Generation
) -> tuple[Generation, list[str]]:
    """The generation this family runs, and the notes to show the member; BadRequestError
    for a flag that does not apply."""
    if gen.fast and (spec.clip_only or not spec.caches):
        raise _refuse(spec, "--fast", _NO_CACHE)
    if spec.clip_only:
        return gen, []
    _check_flags(spec, params, gen)
    notes: list[str] = []
    update: dict[str, object] = {"clip_skip": None}  # a saved /settings clip skip: not here
    # A saved A1111 sampler does not apply here: the family's default does.
    update["sampler"] = (
        spec.default_sampler if params.sampler is None else flow_sampler(spec, params.sampler)
    )
    if any(weight != 1.0 for _, weight in parse_attention(gen.prompt)):
        plain = plain_prompt(gen.prompt)
        notes.append(
            f"`{spec.name}` reads the prompt as written: attention weights like (word:1.3) "
            "and BREAK are CLIP features, so they were removed (the words stay)."
        )
        update["prompt"] = plain
        update["parts"] = (gen.parts[0].model_copy(update={"text": plain}),)
    if gen.negative_prompt and not spec.negative:
        if params.negative_prompt is not None:
            notes.append(
                f"A negative prompt (--no) has no effect on `{spec.name}`: it was left out."
            )
        update["negative_prompt"] = ""
    if spec.distilled:
        if params.cfg is not None and params.cfg != spec.default_cfg:
            notes.append(
                f"--cfg has no effect on `{spec.name}` (a distilled model: CFG ≈ 1); it ran at "
                f"{spec.default_cfg:g}."
            )
        update["cfg"] = spec.default_cfg
    elif params.cfg is None:
        update["cfg"] = spec.default_cfg  # a saved CFG is tuned for Stable Diffusion
    return gen.model_copy(update=update), notes


def check_edit(spec: FamilySpec, what: str) -> None:
    """Zoom, pan, square and Vary (Region) run only on the Stable Diffusion families today."""
    if not spec.clip_only:
        raise _refuse(spec, what, "not yet for this family; use U, V or 🔄")
