"""The "lineart" annotator network (A1111's ControlNet extension, from "Learning to generate line
drawings that convey geometry and semantics"): a small ResNet generator, photo → line drawing.

The published weights (`sk_model.pth`, a pickle) load here once converted to safetensors (same
keys: `model0.1.weight`, …); the width and the number of residual blocks are read from the file,
so the tiny test network (`inference/tiny_images.py`) loads through the same code.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class LineartNet(nn.Module):
    """RGB in 0…1 → line darkness in 0…1 (1 = paper), at the input's size (a multiple of 4)."""

    def __init__(self, width: int = 64, blocks: int = 3) -> None:
        super().__init__()
        self.model0 = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True)
        )
        down: list[nn.Module] = []
        channels = width
        for _ in range(2):
            down += [
                nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1),
                nn.InstanceNorm2d(channels * 2),
                nn.ReLU(True),
            ]
            channels *= 2
        self.model1 = nn.Sequential(*down)
        self.model2 = nn.Sequential(*[_Residual(channels) for _ in range(blocks)])
        up: list[nn.Module] = []
        for _ in range(2):
            up += [
                nn.ConvTranspose2d(
                    channels, channels // 2, 3, stride=2, padding=1, output_padding=1
                ),
                nn.InstanceNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        self.model3 = nn.Sequential(*up)
        self.model4 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, 1, 7), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model4(self.model3(self.model2(self.model1(self.model0(x)))))
        return out


_BLOCK = re.compile(r"model2\.(\d+)\.")


def load_lineart(path: Path) -> LineartNet:
    """The network in a safetensors file; ValueError when the file is not one."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    first = state.get("model0.1.weight")
    if first is None or first.ndim != 4 or first.shape[1] != 3:
        raise ValueError(f"{path.name} is not a lineart annotator (no model0.1.weight)")
    blocks = {int(m.group(1)) for key in state if (m := _BLOCK.match(key))}
    net = LineartNet(width=int(first.shape[0]), blocks=len(blocks))
    net.load_state_dict(state)
    return net.eval()
