"""Which device a setting gives: a GPU worker never falls back to the CPU unasked."""

from __future__ import annotations

import pytest
import torch

from inference.errors import DeviceError
from inference.worker.precision import resolve_device


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_cuda")
def test_auto_without_cuda_is_the_cpu_for_one_box_and_cli() -> None:
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize("setting", ["auto", "cuda", "cuda:1"])
def test_a_worker_asked_for_cuda_without_it_refuses(setting: str) -> None:
    with pytest.raises(DeviceError) as err:
        resolve_device(setting, require_gpu=True)
    message = err.value.message if hasattr(err.value, "message") else str(err.value)
    assert "no CUDA device found" in message and "NANKE_WORKER__DEVICE=cpu" in message
    assert "\n" not in message


@pytest.mark.usefixtures("no_cuda")
def test_an_explicit_cpu_is_allowed_on_a_worker() -> None:
    assert resolve_device("cpu", require_gpu=True) == torch.device("cpu")


@pytest.mark.usefixtures("no_cuda")
def test_explicit_cuda_without_it_is_refused_everywhere() -> None:
    with pytest.raises(DeviceError):
        resolve_device("cuda:0")


def test_auto_with_cuda_is_cuda_on_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", require_gpu=True) == torch.device("cuda")
