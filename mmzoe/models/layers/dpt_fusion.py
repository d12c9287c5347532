"""Building blocks of the MiDaS DPT decoder ("scratch")."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class ZoeResidualConvUnit(nn.Module):
    """Residual conv unit: ``conv2(relu(conv1(relu(x)))) + x``.

    Both convolutions are 3x3 (padding 1) with bias; ReLU is not in-place
    (the input is reused by the residual). No normalisation (MiDaS
    ``use_bn=False``).

    Args:
        channels (int): Input and output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.activation = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.activation(x))
        out = self.conv2(self.activation(out))
        return out + x


class ZoeFeatureFusionBlock(nn.Module):
    """DPT feature fusion block (MiDaS ``FeatureFusionBlock_custom``).

    ``out = main (+ resConfUnit1(skip))``; ``out = resConfUnit2(out)``;
    bilinear resize (``align_corners=True``) to ``size`` or by 2; then the
    1x1 ``out_conv``. The resize comes **before** the 1x1 conv.

    Args:
        channels (int): Feature channels (in = out).
        align_corners (bool): Interpolation mode flag. Defaults to True.
    """

    def __init__(self, channels: int, align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.resConfUnit1 = ZoeResidualConvUnit(channels)
        self.resConfUnit2 = ZoeResidualConvUnit(channels)
        self.out_conv = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self,
                x: torch.Tensor,
                skip: Optional[torch.Tensor] = None,
                size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Fuse ``x`` with ``skip`` and upsample.

        Args:
            x (Tensor): Main path (B, C, h, w).
            skip (Tensor, optional): Lateral feature, same shape as ``x``.
            size (Sequence[int], optional): Output (H, W); ×2 if None.

        Returns:
            Tensor: (B, C, H, W).
        """
        out = x
        if skip is not None:
            out = out + self.resConfUnit1(skip)
        out = self.resConfUnit2(out)
        if size is None:
            out = F.interpolate(
                out,
                scale_factor=2,
                mode='bilinear',
                align_corners=self.align_corners)
        else:
            out = F.interpolate(
                out,
                size=tuple(int(s) for s in size),
                mode='bilinear',
                align_corners=self.align_corners)
        return self.out_conv(out)
