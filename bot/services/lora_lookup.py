"""`--lora NAME` for members' trained LoRAs (/train): who may use which is decided here, in the
bot, before anything is charged; the worker only fetches the file by its key.

The member's own LoRA of that name first, then one published to this server (db/loras.py
`resolve`); otherwise the name is left for the server's LoRA folder, so another member's
private LoRA is refused exactly like an unknown name ("unknown LoRA …"), revealing nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from prompt.request import ImagineParams


class LoraLookup(Protocol):
    async def lookup(self, user_id: int, guild_id: int | None, name: str) -> Any: ...


async def with_stored_loras(
    loras: LoraLookup | None, user_id: int, guild_id: int | None, params: ImagineParams
) -> ImagineParams:
    if loras is None or not params.loras:
        return params
    refs = []
    for ref in params.loras:
        found = await loras.lookup(user_id, guild_id, ref.name)
        if found is not None:  # the base model too: a job on another family is refused
            ref = ref.model_copy(update={"key": found.storage_key, "base_model": found.base_model})
        refs.append(ref)
    return params.model_copy(update={"loras": tuple(refs)})
