"""The /imagine prompt language: pure text → typed requests (no discord, no torch).

See docs/prompt-language.md for the language itself.
"""

from bot.prompt.canonical import format_prompt
from bot.prompt.errors import PromptError
from bot.prompt.parser import MAX_PROMPT_CHARS, MAX_REQUESTS, parse_prompt
from bot.prompt.samplers import SAMPLERS, canonical_sampler

__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_REQUESTS",
    "SAMPLERS",
    "PromptError",
    "canonical_sampler",
    "format_prompt",
    "parse_prompt",
]
