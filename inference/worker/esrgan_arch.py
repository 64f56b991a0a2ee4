"""The two GAN upscaler networks of the Real-ESRGAN family, in plain torch.

- `RRDBNet`: ESRGAN's residual-in-residual dense blocks (RealESRGAN_x4plus, 4x-UltraSharp
  and most community "ESRGAN" files);
- `SRVGGNetCompact`: Real-ESRGAN's compact VGG-style net (realesr-general-x4v3,
  realesr-animevideov3).

Module names follow BasicSR's, so a BasicSR state dict loads as it is; older layouts are
renamed to these names by `inference.worker.upscaler_files`. Why not spandrel (the loader
library ComfyUI uses): docs/engine.md "Upscale (4x)".
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResidualDenseBlock(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feat, grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(feat + grow, grow, 3, 1, 1)
        self.conv3 = nn.Conv2d(feat + 2 * grow, grow, 3, 1, 1)
        self.conv4 = nn.Conv2d(feat + 3 * grow, grow, 3, 1, 1)
        self.conv5 = nn.Conv2d(feat + 4 * grow, feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(feat, grow)
        self.rdb2 = ResidualDenseBlock(feat, grow)
        self.rdb3 = ResidualDenseBlock(feat, grow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator at 4x: two nearest-neighbour 2x steps after the trunk."""

    scale = 4

    def __init__(
        self, in_ch: int = 3, out_ch: int = 3, feat: int = 64, blocks: int = 23, grow: int = 32
    ) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(in_ch, feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(feat, grow) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(feat, out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out: torch.Tensor = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out


class SRVGGNetCompact(nn.Module):
    """Convolutions at the input's size, then a pixel shuffle, plus the nearest-neighbour
    upscaled input (the net learns only the residual)."""

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        feat: int = 64,
        convs: int = 32,
        scale: int = 4,
        act: str = "prelu",
    ) -> None:
        super().__init__()
        self.scale = scale
        self.out_ch = out_ch
        layers: list[nn.Module] = [nn.Conv2d(in_ch, feat, 3, 1, 1), _activation(act, feat)]
        for _ in range(convs):
            layers += [nn.Conv2d(feat, feat, 3, 1, 1), _activation(act, feat)]
        layers.append(nn.Conv2d(feat, out_ch * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        base = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        if self.out_ch != x.shape[1]:
            base = base[:, : self.out_ch]
        result: torch.Tensor = out + base
        return result


def _activation(kind: str, feat: int) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(num_parameters=feat)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)
