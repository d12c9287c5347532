"""DPT "reassemble" stage: ViT tokens to a four-level feature pyramid."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmzoe.registry import MODELS

ViTLevel = Tuple[Tensor, Optional[Tensor]]

_READOUTS = ('ignore', 'add', 'project')


@MODELS.register_module()
class ZoeViTReassemble(BaseModule):
    """Turn four ViT layers into the NCHW maps a DPT decoder takes.

    A ViT core (MiDaS BEiT/ViT, Depth Anything's DINOv2) gives, for each of
    four hooked blocks, the patch tokens as a map on the patch grid and the
    class ("readout") token. Per level this module

    1. merges the readout token into every patch token: ``'ignore'`` drops it,
       ``'add'`` adds it, ``'project'`` concatenates it to each patch token
       and applies ``Linear(2C, C)`` + GELU (the token-wise operation of
       MiDaS' ``ProjectReadout`` and Depth Anything's ``readout_projects``);
    2. projects ``C`` to ``out_channels[i]`` with a 1×1 convolution;
    3. resamples by ``scale_factors[i]``: 4 and 2 with a transposed
       convolution of that kernel and stride, 1 with nothing, 0.5 with a
       3×3 convolution of stride 2 (padding 1).

    With the defaults the grid of a 16-pixel-patch ViT becomes strides 4, 8,
    16 and 32 of the input.

    ``split_readout=True`` computes the ``'project'`` linear layer without
    the concatenation: with its weight split as ``[W_p | W_r]`` over the
    patch and readout halves, ``W [t; r] + b = W_p t + (W_r r + b)``, and
    the bracket is one vector per image, added as the bias of ``W_p t``.
    Half the multiply-adds (6.4 GFLOP less for ViT-L at 384×512), the same
    function up to the summation order; the parameters are unchanged.

    Sub-module names: ``readout_projects.{i}.0``
    (``'project'`` only), ``projects.{i}``, ``resize_layers.{i}``.

    Args:
        in_channels (int): Token width of the ViT (1024 for ViT-L).
        out_channels (Sequence[int]): Channels per level. Defaults to
            (256, 512, 1024, 1024) (MiDaS BEiT-L).
        readout (str): ``'ignore'``, ``'add'`` or ``'project'``. Defaults
            to ``'project'`` (MiDaS DPT).
        scale_factors (Sequence[float]): Resampling per level. Defaults to
            (4, 2, 1, 0.5).
        split_readout (bool): Compute the ``'project'`` readout as two
            halves (see above; a speed switch, shipped on). Defaults to
            False (upstream's concatenation).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int = 1024,
                 out_channels: Sequence[int] = (256, 512, 1024, 1024),
                 readout: str = 'project',
                 scale_factors: Sequence[float] = (4, 2, 1, 0.5),
                 split_readout: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if readout not in _READOUTS:
            raise ValueError(f'ZoeViTReassemble: readout must be one of '
                             f'{_READOUTS}, got {readout!r}.')
        if len(out_channels) != len(scale_factors):
            raise ValueError(
                'ZoeViTReassemble: out_channels and scale_factors need the '
                f'same length, got {list(out_channels)} and '
                f'{list(scale_factors)}.')
        self.in_channels = int(in_channels)
        self.out_channels = [int(c) for c in out_channels]
        self.readout = readout
        self.scale_factors = [float(s) for s in scale_factors]
        self.split_readout = bool(split_readout)
        if readout == 'project':
            self.readout_projects = nn.ModuleList([
                nn.Sequential(
                    nn.Linear(2 * in_channels, in_channels), nn.GELU())
                for _ in self.out_channels
            ])
        self.projects = nn.ModuleList(
            [nn.Conv2d(in_channels, c, 1) for c in self.out_channels])
        self.resize_layers = nn.ModuleList([
            self._resampler(c, s)
            for c, s in zip(self.out_channels, self.scale_factors)
        ])

    @staticmethod
    def _resampler(channels: int, factor: float) -> nn.Module:
        if factor == 1:
            return nn.Identity()
        if factor == 0.5:
            return nn.Conv2d(channels, channels, 3, stride=2, padding=1)
        if factor >= 1 and float(factor).is_integer():
            k = int(factor)
            return nn.ConvTranspose2d(channels, channels, k, stride=k)
        raise ValueError('ZoeViTReassemble: scale factors must be 0.5, 1 or '
                         f'an integer >= 2, got {factor}.')

    def _merge_readout(self, i: int, x: Tensor,
                       cls_token: Optional[Tensor]) -> Tensor:
        if self.readout == 'ignore':
            return x
        if cls_token is None:
            raise ValueError(f'ZoeViTReassemble(readout={self.readout!r}) '
                             f'needs the class token of level {i}; the '
                             'backbone gave None.')
        if self.readout == 'add':
            return x + cls_token[:, :, None, None]
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # B, N, C
        if self.split_readout:
            linear, act = self.readout_projects[i]
            w_patch, w_readout = linear.weight[:, :c], linear.weight[:, c:]
            # one bias per image: W_r r + b
            per_image = F.linear(cls_token, w_readout, linear.bias)
            if b == 1:
                tokens = F.linear(tokens, w_patch, per_image[0])
            else:
                tokens = F.linear(tokens, w_patch) + per_image.unsqueeze(1)
            tokens = act(tokens)
        else:
            readout = cls_token.unsqueeze(1).expand_as(tokens)
            tokens = self.readout_projects[i](
                torch.cat((tokens, readout), -1))
        return tokens.transpose(1, 2).reshape(b, c, h, w)

    def forward(self, inputs: Sequence[Union[ViTLevel, Tensor]]
                ) -> Tuple[Tensor, ...]:
        """Forward.

        Args:
            inputs (Sequence): One entry per level: a pair ``(patch_map,
                cls_token)`` with ``patch_map`` (B, C, gh, gw) and
                ``cls_token`` (B, C) or None, or a bare ``patch_map``
                (no class token).

        Returns:
            tuple[Tensor]: The maps, (B, out_channels[i], gh * s_i, gw * s_i).
        """
        if len(inputs) != len(self.projects):
            raise ValueError(
                f'ZoeViTReassemble expects {len(self.projects)} levels, got '
                f'{len(inputs)}.')
        outs = []
        for i, level in enumerate(inputs):
            if isinstance(level, Tensor):
                x, cls_token = level, None
            else:
                x, cls_token = level
            x = self._merge_readout(i, x, cls_token)
            outs.append(self.resize_layers[i](self.projects[i](x)))
        return tuple(outs)
