"""Building blocks of the MiDaS DPT decoder ("scratch")."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..utils.fused_eval import conv2d_eval, fused_eval_enabled


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

    def forward_eval(self,
                     x: torch.Tensor,
                     residual: Optional[torch.Tensor] = None
                     ) -> torch.Tensor:
        """``forward(x) (+ residual)`` with oneDNN's fused operators
        (eval, no gradient): ``conv1`` + ReLU and ``conv2`` + the residual
        sum in one call each (see :mod:`mmzoe.models.utils.fused_eval`).
        Equal to ``forward`` up to rounding; with ``residual`` the two
        additions are grouped ``conv2(.) + (x + residual)``.

        Args:
            x (Tensor): Input (B, C, H, W).
            residual (Tensor, optional): A second tensor added to the
                output (the fusion block's main path). Defaults to None.

        Returns:
            Tensor: (B, C, H, W).
        """
        out = conv2d_eval(self.activation(x), self.conv1, relu=True)
        res = x if residual is None else x + residual
        return conv2d_eval(out, self.conv2, add=res)


class ZoeFeatureFusionBlock(nn.Module):
    """DPT feature fusion block (MiDaS ``FeatureFusionBlock_custom``).

    ``out = main (+ resConfUnit1(skip))``; ``out = resConfUnit2(out)``;
    bilinear resize (``align_corners=True``) to ``size`` or by 2; then the
    1x1 ``out_conv``. The resize comes **before** the 1x1 conv.

    With ``fused_eval=True``, in eval mode without gradients on a float32
    CPU input, the block runs :meth:`forward_eval` instead: the residual
    units through oneDNN's fused convolutions, and the 1x1 ``out_conv``
    **before** the resize (bilinear weights sum to one and both are linear,
    so this is the same function; it convolves 4x fewer pixels for the x2
    resize). Equal to :meth:`forward` up to rounding.

    With ``conv_before_resize=True`` every other forward (training, or eval
    where :meth:`forward_eval` does not apply) also runs the 1x1
    ``out_conv`` before the resize: the same function for the same reason,
    and the same gradients up to rounding (the adjoint of the resize is
    linear too), with the 1x1 convolution and its two backward products on
    the small map (SwinV2-B at 384x384: 14 GFLOP less per training step).

    Args:
        channels (int): Feature channels (in = out).
        align_corners (bool): Interpolation mode flag. Defaults to True.
        fused_eval (bool): Use :meth:`forward_eval` where it applies.
            Defaults to False.
        conv_before_resize (bool): ``out_conv`` before the resize outside
            :meth:`forward_eval` too (see above). Defaults to False
            (upstream's order).
    """

    def __init__(self,
                 channels: int,
                 align_corners: bool = True,
                 fused_eval: bool = False,
                 conv_before_resize: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.fused_eval = bool(fused_eval)
        self.conv_before_resize = bool(conv_before_resize)
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
        if self.fused_eval and not self.training and fused_eval_enabled(
                x, self.out_conv.weight):
            return self.forward_eval(x, skip, size)
        out = x
        if skip is not None:
            out = out + self.resConfUnit1(skip)
        out = self.resConfUnit2(out)
        if self.conv_before_resize:
            return self._resize(self.out_conv(out), size)
        return self.out_conv(self._resize(out, size))

    def forward_eval(self,
                     x: torch.Tensor,
                     skip: Optional[torch.Tensor] = None,
                     size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """The eval forward of ``fused_eval`` (see the class docstring).

        Args:
            x (Tensor): Main path (B, C, h, w).
            skip (Tensor, optional): Lateral feature, same shape as ``x``.
            size (Sequence[int], optional): Output (H, W); ×2 if None.

        Returns:
            Tensor: (B, C, H, W), in the memory format of the inputs.
        """
        if skip is None:
            out = x
        else:
            out = self.resConfUnit1.forward_eval(skip, residual=x)
        out = self.resConfUnit2.forward_eval(out)
        return self._resize(conv2d_eval(out, self.out_conv), size)

    def _resize(self, out: torch.Tensor,
                size: Optional[Sequence[int]]) -> torch.Tensor:
        """Bilinear resize to ``size``, or by 2 if None."""
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
        return out
