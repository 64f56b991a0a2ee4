"""--cn on the tiny models: real ControlNet pipelines, maps and refusals (64 px, 2 steps)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inference.errors import BadRequestError
from inference.infotext import parse_infotext
from inference.resolve import imagine_spec, vary_spec
from prompt import parse_prompt
from prompt.request import ControlRef, ImageRef
from tests.inference.engine_helpers import diff, params, pixels, spec


def square(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 47, 47)) -> Image.Image:
    image = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(image).rectangle(box, fill="white")
    return image


def photo(seed: int) -> Image.Image:
    """A picture with structure: blocks of colour, so every module sees something."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize((64, 64), Image.Resampling.NEAREST)


def control_spec(registry: Any, module: str = "canny", weight: float = 1.0, **kw: Any) -> Any:
    stored = ImageRef(sha256="ab" * 32)  # the engine is handed the image itself here
    control = ControlRef(module=module, image=stored, weight=weight)  # type: ignore[arg-type]
    return spec(registry, batch=2, control=control, **kw)


def test_canny_edges_lie_on_the_squares_edges() -> None:
    from inference.worker.control_maps import canny

    edges = np.asarray(canny(square()))[..., 0] > 0
    rows, cols = np.nonzero(edges)
    assert edges.sum() > 4 * 25, "the outline is found"
    # Every edge pixel sits within one pixel of the square's outline (16 … 47).
    near_outline = np.minimum(
        np.minimum(np.abs(rows - 16), np.abs(rows - 47)),
        np.minimum(np.abs(cols - 16), np.abs(cols - 47)),
    )
    assert near_outline.max() <= 1
    assert not edges[20:44, 20:44].any(), "nothing inside the flat square"
    assert not edges[:12].any() and not edges[52:].any(), "nothing in the flat background"
    for side in (edges[16:48, 15:18], edges[16:48, 46:49], edges[15:18, 16:48]):
        assert side.any(axis=1).mean() > 0.9 or side.any(axis=0).mean() > 0.9


def test_canny_of_a_flat_image_is_empty() -> None:
    from inference.worker.control_maps import canny

    assert not np.asarray(canny(Image.new("RGB", (32, 32), "gray"))).any()


def test_control_changes_the_image_and_weight_0_is_the_plain_image(
    registry: Any, engine: Any
) -> None:
    plain = engine.run(spec(registry, batch=2))
    steered = engine.run(control_spec(registry), control=square())
    other = engine.run(control_spec(registry), control=photo(1))
    off = engine.run(control_spec(registry, weight=0.0), control=square())
    assert diff(steered, plain) > 0.5, "ControlNet steers the image"
    assert diff(steered, other) > 0.5, "the control image matters"
    # Weight 0 adds zero residuals: the same image as without ControlNet.
    assert np.abs(pixels(off) - pixels(plain)).max() <= 1
    assert steered.control_map is not None and steered.control_map.size == (64, 64)
    assert plain.control_map is None


def test_the_png_records_the_controlnet_unit_as_a1111(registry: Any, engine: Any) -> None:
    out = engine.run(control_spec(registry, weight=0.75), control=square())
    info = parse_infotext(out.infotexts[0]).params
    unit = info["ControlNet 0"]
    assert unit.startswith("Module: canny, Model: controlnet-sd15-canny, Weight: 0.75")
    assert "Threshold A: 100, Threshold B: 200" in unit
    assert info["ControlNet 0 Image"] == "ab" * 6, "the stored image's hash"
    plain = engine.run(spec(registry))
    assert "ControlNet 0" not in parse_infotext(plain.infotexts[0]).params


@pytest.mark.parametrize("module", ["depth", "lineart"])
def test_depth_and_lineart_maps_come_from_their_preprocessors(
    registry: Any, engine: Any, module: str
) -> None:
    out = engine.run(control_spec(registry, module), control=photo(2))
    assert out.control_map is not None and out.control_map.size == (64, 64)
    values = np.asarray(out.control_map)
    assert values.std() > 1, "a map, not a flat image"
    assert parse_infotext(out.infotexts[0]).params["ControlNet 0"].startswith(f"Module: {module}")
    canny_map = engine.controls.maps.make_map("canny", photo(2), 64, 64)
    assert not np.array_equal(values, np.asarray(canny_map))


def test_a_variation_of_a_control_job_keeps_its_control(registry: Any, engine: Any) -> None:
    parent = control_spec(registry)
    first = engine.run(parent, control=square())
    varied = vary_spec(parent, 1, strong=False, source_key="k/1.png", seed=5)
    out = engine.run(varied, source=first.images[0], control=square())
    assert "ControlNet 0" in parse_infotext(out.infotexts[0]).params
    with pytest.raises(BadRequestError, match="needs its control image"):
        engine.run(varied, source=first.images[0])


def test_refused_before_any_work(registry: Any) -> None:
    # A family without a ControlNet: resolve (the bot's intake, before any charge) refuses.
    bare = dataclasses.replace(registry, controlnets={})
    [request] = parse_prompt("a house --cn canny https://example.com/a.png")
    with pytest.raises(BadRequestError, match="the tiny model has no ControlNet on this server"):
        imagine_spec(request, bare)
    only_canny = dataclasses.replace(
        registry, controlnets={"sd15": {"canny": registry.controlnets["sd15"]["canny"]}}
    )
    [request] = parse_prompt("a house --cn depth https://example.com/a.png")
    with pytest.raises(BadRequestError, match="--cn depth is not set up for the tiny model"):
        imagine_spec(request, only_canny)
    no_maps = dataclasses.replace(registry, preprocessors={})
    with pytest.raises(BadRequestError, match="needs its preprocessor"):
        imagine_spec(request, no_maps)
    [anded] = parse_prompt("a cat AND a dog --cn canny https://example.com/a.png")
    with pytest.raises(BadRequestError, match="does not combine with AND"):
        imagine_spec(anded, registry)
    assert imagine_spec(params(control=ControlRef(module="canny")), registry)


def test_nanke_imagine_with_cn_keeps_the_control_image_and_map(
    tiny_models: Any, tmp_path: Any
) -> None:
    import json

    from click.testing import CliRunner

    from nanke.cli import cli

    square().save(tmp_path / "c.png")
    out = tmp_path / "job"
    args = ["imagine", "a house --seed 3 --steps 2", "--cn", f"canny:{tmp_path / 'c.png'}"]
    args += ["--cw", "0.5", "--models", str(tiny_models), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert {"control.png", "control-map.png", "grid.png"} <= {p.name for p in out.iterdir()}
    job = json.loads((out / "job.json").read_text())
    control = job["spec"]["generation"]["control"]
    assert control["weight"] == 0.5 and len(control["image"]["sha256"]) == 64
    assert job["result"]["control_map_key"] == "control-map.png"
    with Image.open(out / "control-map.png") as edges:
        assert np.asarray(edges)[16:48, 15:18].any()
    with Image.open(out / "1.png") as tile:
        assert "Module: canny" in str(tile.info["parameters"])
    vary = CliRunner().invoke(
        cli,
        ["vary", str(out), "--index", "2", "--strength", "subtle", "--out", str(tmp_path / "v")],
    )
    assert vary.exit_code == 0, vary.output
    assert (tmp_path / "v" / "control.png").is_file()
    missing = CliRunner().invoke(
        cli, ["imagine", "a house", "--cn", "canny:nope.png", "--models", str(tiny_models)]
    )
    assert missing.exit_code == 1 and "--cn image nope.png not found" in missing.output


def test_a_control_image_the_safety_checker_flags_refuses_the_job(
    registry: Any, engine: Any
) -> None:
    """Control images are member inputs: a flagged one fails the job (refunded by the
    runner) before any denoising, with a member-safe message."""
    model = engine.safety_checker().model
    model.concept_embeds_weights.data.fill_(-1.0)  # flags everything
    try:
        with pytest.raises(BadRequestError) as refused:
            engine.run(control_spec(registry), control=square())
    finally:
        model.concept_embeds_weights.data.fill_(1.0)
    assert "flagged by this server's safety checker" in refused.value.message
    assert "nothing was charged" in refused.value.message
    assert engine.run(control_spec(registry), control=square()).nsfw == [False, False]
