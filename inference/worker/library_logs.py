"""Keep diffusers' and transformers' chatter out of a user's terminal and the worker's log.

Their notices (torchvision fall-backs, embedding resizes, per-shard progress bars) say nothing a
Nanke user can act on; real failures still reach us as exceptions, which the engine turns into
its own errors. `NANKE_LIBRARY_LOGS=1` (settings' `library_logs`) brings them back for debugging:
the composition roots then never call this.
"""

from __future__ import annotations

_done = False


def quiet_libraries() -> None:
    global _done
    if _done:
        return
    import diffusers
    import huggingface_hub
    import transformers

    transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # ...which also silences huggingface_hub; its download bars are the one sign of life in a
    # first run's multi-GB download, so they stay.
    huggingface_hub.utils.enable_progress_bars()
    _done = True
