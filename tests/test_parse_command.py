"""`nanke parse`: the person's view, the JSON contract, stdin batches and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nanke.cli import cli

ROOT = Path(__file__).resolve().parents[1]
KEYS = [
    "prompt", "parts", "negative_prompt", "aspect_ratio", "cfg", "sampler", "loras", "seed",
    "steps", "quality", "model", "chaos", "tile", "clip_skip", "rescale", "dynthres",
]  # fmt: skip


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["parse", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_json_request_has_exactly_the_contract_keys() -> None:
    code, out, _ = run("--json", "a cat <lora:ink:0.5> --ar 1920:1080 --lora wc --tile --seed 7")
    assert code == 0
    (request,) = json.loads(out)["requests"]
    assert list(request) == KEYS
    assert request == {
        "prompt": "a cat",
        "parts": [{"text": "a cat", "weight": 1.0}],
        "negative_prompt": None,
        "aspect_ratio": "16:9",
        "cfg": None,
        "sampler": None,
        "loras": [{"name": "ink", "weight": 0.5}, {"name": "wc", "weight": 1.0}],
        "seed": 7,
        "steps": None,
        "quality": None,
        "model": None,
        "chaos": None,
        "tile": True,
        "clip_skip": None,
        "rescale": None,
        "dynthres": None,
    }


def test_json_lists_every_expanded_request() -> None:
    code, out, _ = run("--json", "{red, blue} car --repeat 2")
    assert code == 0
    assert [r["prompt"] for r in json.loads(out)["requests"]] == ["red car"] * 2 + ["blue car"] * 2


def test_json_error_object_and_status_2() -> None:
    code, out, _ = run("--json", "a cat --ar 16:9 in a hat")
    assert code == 2
    assert json.loads(out) == {
        "error": {"message": "move 'in a hat' before --ar: only the flag's value may follow a flag",
                  "flag": "--ar"}
    }  # fmt: skip


def test_person_view_shows_the_canonical_prompt_and_defaults() -> None:
    code, out, _ = run("a lighthouse --sampler Euler a --ar 2:1")
    assert code == 0
    assert "request 1 of 1: a lighthouse --ar 2:1 --sampler euler_a" in out
    assert "cfg              (default)" in out


def test_prompt_may_be_given_as_words() -> None:
    code, out, _ = run("--json", "a", "lighthouse", "--ar", "3:2", "--no", "fog")
    assert code == 0
    (request,) = json.loads(out)["requests"]
    assert (request["prompt"], request["aspect_ratio"], request["negative_prompt"]) == (
        "a lighthouse",
        "3:2",
        "fog",
    )


def test_person_view_error_is_one_line_without_traceback() -> None:
    code, out, err = run("a --sampler eulr")
    assert code == 2
    assert err == "error: unknown sampler 'eulr'; closest: euler, euler_a\n"
    assert out == ""


def test_stdin_batch_prints_one_object_per_line() -> None:
    code, out, _ = run("--json", "-", stdin="a cat\n\nb --q 3\r\nspace::2 ship\n")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["requests"][0]["prompt"] == "a cat"
    assert lines[1]["error"]["message"].startswith("the prompt is empty")
    assert lines[2]["error"]["flag"] == "--q"
    assert lines[3]["requests"][0]["parts"] == [
        {"text": "space", "weight": 2.0},
        {"text": "ship", "weight": 1.0},
    ]


def test_stdin_batch_for_people() -> None:
    code, out, _ = run("-", stdin="a cat --tile\n--ar 1:1\n")
    assert code == 0
    assert "request 1 of 1: a cat --tile" in out
    assert "error: the prompt has no text before its flags" in out


def test_stdin_batch_in_a_real_process() -> None:
    # Line separators other than '\n' (U+2028, \x1c) stay inside their prompt.
    prompts = ["a cat --ar 16:9", "", "x\u2028y --seed 1", "a --ar 9:1", "caf\xe9 \x1c bar"]
    out = subprocess.run(
        [sys.executable, "-m", "nanke", "parse", "--json", "-"],
        input="\n".join(prompts).encode() + b"\n\xff\xfe broken utf-8\n",
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(results) == len(prompts) + 1
    assert results[0]["requests"][0]["aspect_ratio"] == "16:9"
    assert "error" in results[1]
    assert results[2]["requests"][0]["prompt"] == "x y"
    assert results[3]["error"]["flag"] == "--ar"
    assert results[4]["requests"][0]["prompt"] == "café bar"
    assert results[5]["requests"][0]["prompt"] == "\ufffd\ufffd broken utf-8"
