"""Image prompts and references in the prompt language (issue 15): URLs at the start, --iw,
--sref/--sw, --oref/--ow and the --cref/--cw aliases."""

from __future__ import annotations

import pytest

from prompt import PromptError, format_prompt, parse_prompt
from prompt.blend import blend_params
from prompt.request import ImageRef

CAT, DOG = "https://img.test/cat.png", "https://img.test/dog.jpg"
STORED = ImageRef(sha256="ab" * 32)


def test_urls_at_the_start_are_image_prompts_and_the_rest_is_the_prompt() -> None:
    [params] = parse_prompt(f"{CAT} {DOG} a cat and a dog --iw 1.5 --ar 2:1")
    assert [ref.url for ref in params.images] == [CAT, DOG]
    assert (params.prompt, params.image_weight, params.aspect_ratio) == (
        "a cat and a dog",
        1.5,
        "2:1",
    )
    [later] = parse_prompt(f"a cat {CAT}")  # a URL inside the text is text
    assert later.images == () and later.prompt == f"a cat {CAT}"


def test_references_and_aliases() -> None:
    [params] = parse_prompt(f"a cat --sref {CAT} {DOG} --sw 300 --cref {DOG} --cw 50")
    assert [r.url for r in params.style_refs] == [CAT, DOG] and params.style_weight == 300
    assert params.object_ref == ImageRef(url=DOG) and params.object_weight == 50
    [plain] = parse_prompt(f"a cat --oref {DOG} --ow 1000")
    assert plain.object_weight == 1000


def test_attachments_join_the_url_image_prompts_first() -> None:
    [params] = parse_prompt(f"{CAT} a cat --iw 0", (STORED,))
    assert params.images == (STORED, ImageRef(url=CAT)) and params.image_weight == 0.0
    assert params.model_dump()["image_weight"] == 0.0  # a weight of 0 is kept, not dropped


def test_canonical_form_parses_back() -> None:
    text = f"{CAT} a cat --iw 2 --sref {DOG} --sw 10 --oref {CAT} --ow 0"
    [params] = parse_prompt(text)
    assert parse_prompt(format_prompt(params)) == [params]


@pytest.mark.parametrize(
    ("text", "attached", "says"),
    [
        ("a cat --iw 1", 0, "--iw sets the weight of image prompts"),
        (f"{CAT} a cat --iw 3.5", 0, "--iw"),
        (f"a cat --sref {CAT} --sw 1001", 0, "--sw"),
        ("a cat --sw 100", 0, "--sw goes with --sref"),
        ("a cat --ow 100", 0, "--ow goes with --oref"),
        (f"a cat --oref {CAT} --cref {DOG}", 0, "given twice"),
        (f"a cat --oref {CAT} --ow 5 --cw 6", 0, "--cw is --ow's old name"),
        (f"a cat --oref {CAT} {DOG}", 0, "move"),
        (f"{CAT} --ar 1:1", 0, "add words after the image prompts"),
        (" ".join([CAT] * 6) + " a cat", 0, "at most 5 images"),
        (" ".join([CAT] * 3) + " a cat", 3, "at most 5 images"),
        ("https:// a cat", 0, "is not an image URL"),
        ("a cat --sref " + " ".join([CAT] * 6), 0, "at most 5 image URLs"),
        ("a cat --sref notaurl", 0, "is not an image URL"),
    ],
)
def test_refusals_are_messages(text: str, attached: int, says: str) -> None:
    with pytest.raises(PromptError, match=None) as caught:
        parse_prompt(text, (STORED,) * attached)
    assert says in caught.value.message


def test_blend_params() -> None:
    params = blend_params((STORED, ImageRef(url=CAT)), "2:3")
    assert params.blend and params.prompt == "" and params.aspect_ratio == "2:3"
    for bad in ((STORED,), (STORED,) * 6):
        with pytest.raises(PromptError, match="blend 2 to 5 images"):
            blend_params(bad)
    with pytest.raises(PromptError, match="dimensions"):
        blend_params((STORED, STORED), "16:9")
