"""A1111 prompt editing, alternation and AND (pure): text → per-step prompt schedules.

As AUTOMATIC1111's `prompt_parser` reads them (≥ 1.6 numbering):

- `[from:to:when]` paints `from` up to step `when`, then `to`; `[to:when]` adds `to` after
  `when`; `[from::when]` removes `from` after `when`. A `when` with a decimal point is a
  fraction of the steps (`0.5` → step int(0.5 × steps)), a whole number is a step number.
- `[a|b|c]` alternates every step (`a` at step 1, `b` at step 2, …).
- `a cat :1.2 AND a dog :0.8` splits the prompt into subprompts with weights; the worker adds
  their guided predictions (composable diffusion).
- Brackets that are none of these stay text (attention is weighed later); text that A1111's
  grammar cannot read (a `|` outside `[…]`) is painted as it is, unscheduled.

`prompt_schedule("a [b:3]", 10)` → `[(3, "a "), (10, "a b")]`: each entry is the text used
while the step counter is at most its first value (A1111's `end_at_step`; the counter starts
at 0, so the first entry also covers step 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AND = re.compile(r"\bAND\b")
_WEIGHT = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")
_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*")
_PAIRS = {"[": "]", "(": ")"}


@dataclass
class _Sched:
    before: list[_Node] | None
    after: list[_Node]
    number: str
    when: int = 0


@dataclass
class _Alt:
    options: list[list[_Node]]


_Node = str | _Sched | _Alt


def split_and(text: str) -> list[tuple[str, float]]:
    """`a cat :1.2 AND a dog` → [("a cat", 1.2), (" a dog", 1.0)] (A1111's subprompts)."""
    out: list[tuple[str, float]] = []
    for sub in _AND.split(text):
        match = _WEIGHT.search(sub)
        if match is None:  # pragma: no cover - the pattern matches every string
            out.append((sub, 1.0))
            continue
        weight = match.group(2)
        out.append((match.group(1), float(weight) if weight is not None else 1.0))
    return out


def has_and(text: str) -> bool:
    return _AND.search(text) is not None


def prompt_schedule(text: str, steps: int) -> list[tuple[int, str]]:
    """The texts of `text` over `steps` steps (see the module doc); never raises."""
    steps = max(1, steps)
    nodes, ok = _parse(text, top=True)
    if not ok:
        return [(steps, text)]
    ends = {steps}
    _collect(nodes, steps, ends)
    return [(end, _render(nodes, end)) for end in sorted(ends)]


def is_scheduled(text: str) -> bool:
    """Whether `text` holds prompt editing or alternation (its schedule can change)."""
    nodes, ok = _parse(text, top=True)
    return ok and any(not isinstance(node, str) for node in nodes)


def _match_close(text: str, start: int) -> int | None:
    """Index of the `]` closing the `[` at `start`, brackets and parens balanced; else None."""
    stack: list[str] = []
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in _PAIRS:
            stack.append(_PAIRS[c])
        elif c in ")]":
            if not stack or stack.pop() != c:
                return None
            if not stack:
                return i
        i += 1
    return None


def _split_top(inner: str, sep: str) -> list[str]:
    """`inner` split at `sep` outside nested brackets and escapes."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(inner):
        c = inner[i]
        if c == "\\":
            i += 2
            continue
        if c in "[(":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(inner[last:i])
            last = i + 1
        i += 1
    parts.append(inner[last:])
    return parts


def _parse(text: str, top: bool = False) -> tuple[list[_Node], bool]:
    """Nodes of `text`; ok is False when a `|` stands outside any alternation at top level."""
    nodes: list[_Node] = []
    ok = True
    plain: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            plain.append(text[i : i + 2])
            i += 2
            continue
        node = _bracket(text, i) if c == "[" else None
        if node is None:
            if c == "|" and top:
                ok = False
            plain.append(c)
            i += 1
            continue
        parsed, end = node
        if plain:
            nodes.append("".join(plain))
            plain = []
        nodes.append(parsed)
        i = end + 1
    if plain:
        nodes.append("".join(plain))
    return nodes, ok


def _bracket(text: str, start: int) -> tuple[_Node, int] | None:
    end = _match_close(text, start)
    if end is None:
        return None
    inner = text[start + 1 : end]
    colons = _split_top(inner, ":")
    if len(colons) in (2, 3) and _NUMBER.fullmatch(colons[-1]):
        number = _NUMBER.fullmatch(colons[-1])
        assert number is not None
        before = _parse(colons[0])[0] if len(colons) == 3 else None
        after = _parse(colons[-2])[0]
        return _Sched(before, after, number.group(1)), end
    options = _split_top(inner, "|")
    if len(options) > 1 and len(colons) == 1:
        return _Alt([_parse(option)[0] for option in options]), end
    return None


def _collect(nodes: list[_Node], steps: int, ends: set[int]) -> None:
    for node in nodes:
        if isinstance(node, _Sched):
            value = float(node.number)
            value = value * steps if "." in node.number else value
            node.when = min(steps, int(value)) if abs(value) < 1e9 else (steps if value > 0 else 0)
            if node.when >= 1:
                ends.add(node.when)
            _collect(node.before or [], steps, ends)
            _collect(node.after, steps, ends)
        elif isinstance(node, _Alt):
            ends.update(range(1, steps + 1))
            for option in node.options:
                _collect(option, steps, ends)


def _render(nodes: list[_Node], step: int) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Sched):
            out.append(_render(node.before or [] if step <= node.when else node.after, step))
        else:
            out.append(_render(node.options[(step - 1) % len(node.options)], step))
    return "".join(out)
