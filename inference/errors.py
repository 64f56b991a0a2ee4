"""Errors the engine raises for things a user or an admin can fix (torch-free).

Each carries a one-line message that says what is wrong and how to fix it; the CLI prints it
and exits non-zero, the bot shows it to the member.
"""

from __future__ import annotations

from pipeline.errors import JobError


class EngineError(JobError):
    """Base class: `message` is safe to show to the person who asked; a job that raises one
    fails without a retry."""


class RegistryError(EngineError):
    """models.toml is missing or malformed."""


class UnknownModelError(EngineError):
    pass


class UnknownLoraError(EngineError):
    pass


class UnknownSamplerError(EngineError):
    pass


class ModelFileError(EngineError):
    """A model, LoRA or source-image file is missing or cannot be read."""


class OutOfMemoryError(EngineError):
    pass


class NaNOutputError(EngineError):
    """The model produced NaN values (often fp16 overflow in a VAE or a broken LoRA)."""


class BadRequestError(EngineError):
    """A job that cannot run as asked (e.g. an upscale without its source image)."""


class DeviceError(EngineError):
    """The device the settings ask for is not on this machine (e.g. CUDA without a GPU)."""
