"""MiDaS relative (inverse) depth head, ``scratch.output_conv``.

A head (it ends in a depth map) that the DPT neck builds as
``neck.relative_head`` so that converted MiDaS/ZoeDepth checkpoints keep
their keys; its two outputs become ``ZoeCoreOutput.out_conv`` and
``ZoeCoreOutput.rel_depth``.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmzoe.registry import MODELS
from ..utils.fused_eval import conv2d_eval, fused_eval_enabled


@MODELS.register_module()
class ZoeRelativeDepthHead(BaseModule):
    """MiDaS DPT output head giving relative inverse depth.

    ``conv1`` 3x3 C->C/2 -> bilinear ×2 (``align_corners=True``) -> ``conv2``
    3x3 C/2->32 -> ReLU [``out_conv`` feature] -> ``conv3`` 1x1 32->1 -> ReLU.
    The checkpoint keys ``scratch.output_conv.{0,2,4}`` map to
    ``conv{1,2,3}``. Depth Anything's head is the same with the resize
    between ``output_conv1`` and ``output_conv2`` going from the finest fused
    map (8× the 14-pixel patch grid) to the input size (14× the grid):
    ``scale_factor=1.75``.

    Args:
        in_channels (int): Channels of the finest fused feature (r1).
            Defaults to 256.
        mid_channels (int, optional): Channels after ``conv1``. Defaults to
            ``in_channels // 2``.
        feat_channels (int): Channels of the ``out_conv`` feature.
            Defaults to 32 (hard-coded upstream).
        non_negative (bool): Final ReLU. Defaults to True.
        align_corners (bool): Interpolation flag. Defaults to True.
        scale_factor (float): Resize factor after ``conv1``. 2 (default,
            MiDaS) resizes by ``scale_factor=2``; any other value to the
            size ``(int(h * s), int(w * s))`` (1.75 for Depth Anything).
        final_bias (float, optional): If set, ``conv3.bias`` starts at this
            value instead of PyTorch's default init. A positive value keeps
            the final ReLU alive when training from scratch (with the
            default init it can start, and stay, at zero everywhere, which
            cuts the ``rel_depth`` input of the metric head). Checkpoints
            overwrite it. Defaults to None (PyTorch default init).
        fused_eval (bool): In eval mode without gradients (float32, CPU),
            run ``conv2`` + ReLU and ``conv3`` + ReLU as single oneDNN calls
            (:mod:`mmzoe.models.utils.fused_eval`; rounding only). The DPT
            neck sets it from its own ``fused_eval``. Defaults to False.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int = 256,
                 mid_channels: Optional[int] = None,
                 feat_channels: int = 32,
                 non_negative: bool = True,
                 align_corners: bool = True,
                 scale_factor: float = 2.0,
                 final_bias: Optional[float] = None,
                 fused_eval: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fused_eval = bool(fused_eval)
        mid_channels = mid_channels or in_channels // 2
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.align_corners = align_corners
        if float(scale_factor) <= 0:
            raise ValueError('ZoeRelativeDepthHead: scale_factor must be > '
                             f'0, got {scale_factor}.')
        self.scale_factor = float(scale_factor)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(mid_channels, feat_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(feat_channels, 1, 1)
        if final_bias is not None:
            nn.init.constant_(self.conv3.bias, float(final_bias))
        self.relu = nn.ReLU(inplace=False)
        self.final_act = nn.ReLU(inplace=False) if non_negative else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Forward.

        Args:
            x (Tensor): (B, C, h, w) feature (r1, at 1/2 of the input).

        Returns:
            tuple[Tensor, Tensor]: ``out_conv`` (B, 32, H, W) and the
            relative inverse depth (B, 1, H, W), ``H = h * scale_factor``.
        """
        fused = (self.fused_eval and not self.training
                 and fused_eval_enabled(x, self.conv1.weight))
        x = self.conv1(x)
        if self.scale_factor == 2.0:
            x = F.interpolate(
                x, scale_factor=2, mode='bilinear',
                align_corners=self.align_corners)
        else:
            h, w = x.shape[-2:]
            x = F.interpolate(
                x,
                size=(int(h * self.scale_factor),
                      int(w * self.scale_factor)),
                mode='bilinear',
                align_corners=self.align_corners)
        if fused:
            feat = conv2d_eval(x, self.conv2, relu=True)
            rel = conv2d_eval(
                feat, self.conv3,
                relu=isinstance(self.final_act, nn.ReLU))
            return feat, rel
        feat = self.relu(self.conv2(x))
        rel = self.final_act(self.conv3(feat))
        return feat, rel
