"""The engine quiets diffusers/transformers, but a first run's hub download still shows progress."""

from __future__ import annotations

import huggingface_hub
import pytest

from inference.worker.library_logs import quiet_libraries


def test_hub_download_bars_survive_quieting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inference.worker.library_logs._done", False)
    quiet_libraries()
    assert not huggingface_hub.utils.are_progress_bars_disabled()
