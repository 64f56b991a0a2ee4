"""The /imagine prompt language: pure text → typed requests (no discord, no torch).

See docs/prompt-language.md for the language itself.
"""

from prompt.canonical import format_prompt
from prompt.errors import PromptError
from prompt.parser import MAX_PROMPT_CHARS, MAX_REQUESTS, parse_prompt
from prompt.samplers import SAMPLERS, canonical_sampler

__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_REQUESTS",
    "SAMPLERS",
    "PromptError",
    "canonical_sampler",
    "format_prompt",
    "parse_prompt",
]
