"""Keep diffusers' and transformers' chatter out of a user's terminal and the worker's log.

Their notices (torchvision fall-backs, embedding resizes, per-shard progress bars) say nothing a
Nanke user can act on; real failures still reach us as exceptions, which the engine turns into
its own errors. `NANKE_LIBRARY_LOGS=1` brings them back for debugging.
"""

from __future__ import annotations

import os

_done = False


def quiet_libraries() -> None:
    global _done
    if _done or os.environ.get("NANKE_LIBRARY_LOGS") == "1":
        return
    import diffusers
    import transformers

    transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    _done = True
