"""Tiny random-weight models for the end-to-end wire test, built once per session."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
import yarl
from fake_discord import FakeDiscord


@pytest.fixture(scope="session")
def tiny_models_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from inference.tiny import build_tiny_models

    torch.set_num_threads(1)  # shared CI cores; tiny models gain nothing from more
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
async def fake(monkeypatch):
    server = FakeDiscord()
    base = await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", f"{base}/api/v10")
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    yield server
    await server.stop()
