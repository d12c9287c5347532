"""MiDaS DPT decoder ("scratch") as an mmseg neck."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule

from mmzoe.registry import MODELS
# registers ZoeRelativeDepthHead, the default ``relative_head``
from ..decode_heads.relative_depth_head import ZoeRelativeDepthHead  # noqa
from ..layers.dpt_fusion import ZoeFeatureFusionBlock
from ..layers.zoe_conv import convert_to_zoe_conv
from ..utils.core_output import ZoeCoreOutput
from ..utils.fused_eval import fused_eval_enabled
from ..utils.memory_format import channels_last_copy, nchw_copy
from ..utils.winograd_conv import winograd_enabled, winograd_may_apply


def _qualified(cfg: dict) -> dict:
    """A copy of ``cfg`` whose unqualified mmzoe type is ``mmzoe.<type>``
    (so it also resolves from a config whose default scope is ``mmseg``)."""
    cfg = dict(cfg)
    head_type = cfg.get('type')
    if isinstance(head_type, str) and '.' not in head_type and \
            head_type in MODELS.module_dict:
        cfg['type'] = f'mmzoe.{head_type}'
    return cfg


@MODELS.register_module()
class ZoeDPTNeck(BaseModule):
    """DPT neck of MiDaS v3.1 (``layer{1..4}_rn`` + ``refinenet{1..4}``).

    Takes four backbone maps (fine to coarse, each half the size of the
    previous one) and returns a :class:`~mmzoe.models.utils.ZoeCoreOutput`
    (``bottleneck`` = l4_rn, ``decoder`` = (r4, r3, r2, r1), ``out_conv``,
    ``rel_depth``; see ``docs/architecture.md``), the contract every head
    reads by name. Output sizes follow the inputs (no fixed network size):
    r4/r3/r2 take the sizes of l3/l2/l1, r1 is ×2 of r2, and the relative
    head doubles it again.

    ``refinenet4`` is only called with one input, so its ``resConfUnit1`` is
    never used. It is **kept** (1,180,160 parameters for 256 channels; the
    neck + relative head then have 14,460,097 parameters for SwinV2-B) so that
    upstream MiDaS / ZoeDepth checkpoints load with ``strict=True`` without
    special cases. Since it can never receive a gradient, it is created with
    ``requires_grad=False`` (``freeze_unused=True``), so DDP does not need
    ``find_unused_parameters`` and "every trainable parameter gets a
    gradient" holds.

    Args:
        in_channels (Sequence[int]): Channels of the four backbone maps.
            Defaults to (128, 256, 512, 1024) (SwinV2-B).
        channels (int): DPT feature width. Defaults to 256.
        relative_head (dict): Config of the relative depth head
            (``ZoeRelativeDepthHead``, built here as ``neck.relative_head``
            so MiDaS checkpoint keys map one to one; it gives ``out_conv``
            and ``rel_depth``); its ``in_channels`` defaults to
            ``channels``. An unqualified mmzoe type is built as
            ``mmzoe.<type>``, so the default also resolves from a config
            whose default scope is ``mmseg``.
        align_corners (bool): Interpolation flag. Defaults to True.
        freeze_unused (bool): Set ``requires_grad=False`` on the unused
            ``refinenet4.resConfUnit1``. Defaults to True.
        channels_last (bool): Run the convolutions in channels-last memory
            format (weights converted at construction, inputs on entry; the
            outputs are returned in the default contiguous format, except
            on the ``fused_eval`` path, which keeps them channels-last).
            Changes only the rounding (oneDNN picks other kernels).
            Defaults to False.
        with_cp (bool): Activation checkpointing of each fusion block and of
            the relative head while training. Numerically identical.
            Defaults to False.
        fused_eval (bool): In eval mode without gradients on float32 CPU
            inputs, run the fusion blocks and the relative head with
            oneDNN's fused convolution + ReLU / + residual operators, the
            fusion blocks' 1x1 ``out_conv`` before their resize (same
            function, 4x fewer pixels), and return the outputs in the
            convolutions' memory format (no ``contiguous`` copies). Equal to
            the plain forward up to rounding; training and gradient
            computations are unaffected. Defaults to False.
        fast_conv_grad (bool): Build the convolutions (also those of the
            relative head and ``reassemble``) as
            :class:`~mmzoe.models.layers.ZoeConv2d`: same parameters and
            forward, a faster CPU backward pass of the 3x3 convolutions in
            training (mostly with ``channels_last``). Changes only the
            rounding of the gradients. Defaults to False.
        winograd_conv (bool): Build the convolutions as
            :class:`~mmzoe.models.layers.ZoeConv2d` with ``winograd=True``:
            float32 CPU 3x3 convolutions of maps from 40x40 pixels between
            wide enough channel widths (harmonic mean from 40) run
            through NNPACK's Winograd kernels
            (:mod:`mmzoe.models.utils.winograd_conv`; in training together
            with ``fast_conv_grad``: forward and input gradient). NNPACK
            reads NCHW tensors, so if a convolution of the fusion blocks or
            the relative head is that wide the decoder keeps its weights
            NCHW (``reassemble`` still follows ``channels_last``) and runs
            in NCHW wherever NNPACK may run (float32 CPU, no autocast);
            elsewhere, and with a narrower decoder (e.g. 32 channels),
            ``channels_last`` holds as without it. Changes the
            rounding only (Winograd: ~1e-5 of the largest output of a
            convolution). Defaults to False.
        conv_before_resize (bool): The fusion blocks' 1x1 ``out_conv``
            before their resize in training too (and in eval where
            ``fused_eval`` does not apply): the same function, gradients
            up to rounding, the convolution on 4x fewer pixels
            (:class:`~mmzoe.models.layers.dpt_fusion.
            ZoeFeatureFusionBlock`). Defaults to False.
        reassemble (dict, optional): Config of a module run on the backbone
            outputs first (``neck.reassemble``), e.g. ``ZoeViTReassemble``
            for ViT cores, whose backbones give patch maps and class tokens
            instead of a pyramid. Its outputs must have ``in_channels``
            channels. Defaults to None (the backbone gives the pyramid).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (128, 256, 512, 1024),
                 channels: int = 256,
                 relative_head: Optional[dict] = dict(
                     type='ZoeRelativeDepthHead'),
                 align_corners: bool = True,
                 freeze_unused: bool = True,
                 channels_last: bool = False,
                 with_cp: bool = False,
                 fused_eval: bool = False,
                 fast_conv_grad: bool = False,
                 winograd_conv: bool = False,
                 conv_before_resize: bool = False,
                 reassemble: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 4:
            raise ValueError('ZoeDPTNeck needs exactly 4 input levels, got '
                             f'in_channels={list(in_channels)}.')
        if relative_head is None:
            raise ValueError('ZoeDPTNeck needs a relative_head config (it '
                             'produces the out_conv and rel_depth outputs).')
        self.in_channels = list(in_channels)
        self.channels = channels
        for i, c in enumerate(self.in_channels, start=1):
            setattr(self, f'layer{i}_rn',
                    nn.Conv2d(c, channels, 3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self, f'refinenet{i}',
                    ZoeFeatureFusionBlock(
                        channels, align_corners,
                        conv_before_resize=conv_before_resize))
        if freeze_unused:
            self.refinenet4.resConfUnit1.requires_grad_(False)
        self.reassemble = None if reassemble is None else MODELS.build(
            _qualified(reassemble))
        relative_head = _qualified(relative_head)
        relative_head.setdefault('in_channels', channels)
        self.relative_head = MODELS.build(relative_head)
        self.channels_last = bool(channels_last)
        self.with_cp = bool(with_cp)
        self.fused_eval = bool(fused_eval)
        for module in [getattr(self, f'refinenet{i}') for i in range(1, 5)
                       ] + [self.relative_head]:
            if hasattr(module, 'fused_eval'):
                module.fused_eval = self.fused_eval
        self.fast_conv_grad = bool(fast_conv_grad)
        self.winograd_conv = bool(winograd_conv)
        if self.fast_conv_grad or self.winograd_conv:
            convert_to_zoe_conv(
                self, fast_grad=self.fast_conv_grad,
                winograd=self.winograd_conv)
        # NNPACK's NCHW layout only for a decoder (fusion blocks, relative
        # head: the large maps) with a convolution wide enough for NNPACK;
        # narrower ones run fastest channels-last on oneDNN
        decoder = [getattr(self, f'refinenet{i}') for i in range(1, 5)]
        self._winograd_nchw = self.winograd_conv and any(
            winograd_may_apply(m)
            for part in decoder + [self.relative_head]
            for m in part.modules())
        if self.channels_last:
            # NNPACK reads NCHW weights: with winograd_conv only the
            # reassemble stage (no 3x3 stride-1 convolutions) is converted
            parts = [self.reassemble] if self._winograd_nchw else [self]
            for part in parts:
                if part is not None:
                    part.to(memory_format=torch.channels_last)

    def _run(self, module: nn.Module, *args, **kwargs):
        """Call ``module``, checkpointed when ``with_cp`` applies."""
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(
                module, *args, use_reentrant=False, **kwargs)
        return module(*args, **kwargs)

    def forward(self, inputs: Sequence) -> ZoeCoreOutput:
        """Forward.

        Args:
            inputs (Sequence): Four NCHW maps, strides 4..32 (or what
                ``reassemble`` turns into them).

        Returns:
            ZoeCoreOutput: The named features and the relative depth.
        """
        if self.reassemble is not None:
            inputs = self.reassemble(inputs)
        if len(inputs) != 4:
            raise ValueError(
                f'ZoeDPTNeck expects 4 feature maps, got {len(inputs)}.')
        fmt = None
        if self._winograd_nchw and winograd_enabled(inputs[0]):
            fmt = torch.contiguous_format  # NNPACK's layout
        elif self.channels_last:
            fmt = torch.channels_last
        if fmt is torch.contiguous_format:
            # blocked transposes of the channels-last reassemble outputs
            inputs = [nchw_copy(x) for x in inputs]
        elif fmt is not None:
            inputs = [x.contiguous(memory_format=fmt) for x in inputs]
        l1, l2, l3, l4 = (getattr(self, f'layer{i + 1}_rn')(x)
                          for i, x in enumerate(inputs))
        r4 = self._run(self.refinenet4, l4, size=tuple(l3.shape[2:]))
        r3 = self._run(self.refinenet3, r4, l3, size=tuple(l2.shape[2:]))
        r2 = self._run(self.refinenet2, r3, l2, size=tuple(l1.shape[2:]))
        r1 = self._run(self.refinenet1, r2, l1)
        out_conv, rel_depth = self._run(self.relative_head, r1)
        outs = ZoeCoreOutput(
            bottleneck=l4,
            decoder=(r4, r3, r2, r1),
            out_conv=out_conv,
            rel_depth=rel_depth)
        if self.channels_last:
            if not (self.fused_eval and not self.training
                    and fused_eval_enabled(l1)):
                outs = outs.apply(lambda x: x.contiguous())
            elif fmt is torch.contiguous_format:
                # the fused-eval heads read channels-last maps (the
                # log-binomial's fused paths): one copy of each output,
                # with channels-last strides also for size-1 dimensions
                # (torch.cat of such tensors then stays channels-last)
                outs = outs.apply(channels_last_copy)
        return outs
