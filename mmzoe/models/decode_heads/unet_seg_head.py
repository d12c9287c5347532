"""U-Net style segmentation head: the training-only distillation branch."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from mmzoe.registry import MODELS
from ..utils.core_output import ZoeCoreOutput
from .loss_build import (qualify_loss_cfgs, quiet_base_head_init,
                         sum_losses)


class _ZoeUNetUpBlock(nn.Module):
    """One up block: upsample, concatenate a skip (optional), two 3x3 convs.

    Args:
        in_channels (int): Channels of the lower-resolution input.
        skip_channels (int): Channels of the skip map; 0 for no skip.
        out_channels (int): Channels of both 3x3 convs.
        upsample_mode (str): ``'deconv'``: a learned 2x2 stride-2 transposed
            conv keeping ``in_channels`` (U-Net's "up-convolution"; if the
            result does not match the skip's size it is then resized
            bilinearly); ``'bilinear'``: parameter-free bilinear resize.
        align_corners (bool): ``align_corners`` of bilinear resizing.
        conv_cfg (dict, optional): Conv layer config.
        norm_cfg (dict, optional): Norm layer config (None: plain U-Net).
        act_cfg (dict): Activation config.
    """

    def __init__(self,
                 in_channels: int,
                 skip_channels: int,
                 out_channels: int,
                 upsample_mode: str = 'deconv',
                 align_corners: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU')) -> None:
        super().__init__()
        if upsample_mode not in ('deconv', 'bilinear'):
            raise ValueError("upsample_mode must be 'deconv' or 'bilinear', "
                             f'got {upsample_mode!r}')
        self.upsample_mode = upsample_mode
        self.align_corners = align_corners
        self.has_skip = skip_channels > 0
        if upsample_mode == 'deconv':
            self.up = nn.ConvTranspose2d(
                in_channels, in_channels, kernel_size=2, stride=2)
        else:
            self.up = None
        self.conv1 = ConvModule(
            in_channels + skip_channels,
            out_channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.conv2 = ConvModule(
            out_channels,
            out_channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        """Upsample ``x`` to ``skip``'s size (or 2x), concat, convolve."""
        if self.has_skip:
            if skip is None:
                raise ValueError('this up block expects a skip feature map')
            size = tuple(skip.shape[2:])
        else:
            size = (x.shape[2] * 2, x.shape[3] * 2)
        if self.up is not None:
            x = self.up(x)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(
                x, size=size, mode='bilinear',
                align_corners=self.align_corners)
        if self.has_skip:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


@MODELS.register_module()
class ZoeUNetSegHead(BaseDecodeHead):
    """U-Net expansive path on the DPT decoder features (auxiliary head).

    The "segmentation cross-talk distillation" branch: it is trained with the
    depth model and never run at inference (``DepthEstimator.predict`` does
    not call auxiliary heads), so inference cost equals plain ZoeDepth.

    Inputs are the multi-scale pyramid of the core's
    :class:`~mmzoe.models.utils.ZoeCoreOutput`
    (:meth:`~mmzoe.models.utils.ZoeCoreOutput.pyramid`, read by name):
    ``f0 = bottleneck`` (l4_rn, 1/32), ``f1 = r4`` (1/16), ``f2 = r3`` (1/8),
    ``f3 = r2`` (1/4), ``f4 = r1`` (1/2), 256 channels each for the SwinV2-B
    core. A plain sequence of maps, coarse to fine, works too. With
    ``block_channels = (c1, ..., c5)`` the five up blocks are::

        block 1: up(f0) -> 1/16, cat f1 (r4), 2x(3x3 conv+ReLU) -> c1 @ 1/16
        block 2: up(x)  -> 1/8,  cat f2 (r3), 2x(3x3 conv+ReLU) -> c2 @ 1/8
        block 3: up(x)  -> 1/4,  cat f3 (r2), 2x(3x3 conv+ReLU) -> c3 @ 1/4
        block 4: up(x)  -> 1/2,  cat f4 (r1), 2x(3x3 conv+ReLU) -> c4 @ 1/2
        block 5: up(x)  -> 1/1,  no skip,     2x(3x3 conv+ReLU) -> c5 @ 1/1
        conv_seg: 1x1 conv c5 -> num_classes logits at the network resolution

    (in general ``len(in_channels)`` inputs give as many blocks; every block
    but the last concatenates the next input as its skip). ``up`` is, by
    default, U-Net's learned "up-convolution", a 2x2 stride-2 transposed conv
    that keeps the channel count (``upsample_mode='deconv'``); with
    ``upsample_mode='bilinear'`` it is a parameter-free bilinear resize
    (``align_corners=True`` by default, as in the DPT decoder). Either way the
    result is resized to the skip's exact size if it differs. ``conv_seg`` of
    :class:`BaseDecodeHead` *is* the final 1x1 conv (``channels = c5``), so
    every parameter gets a gradient; dropout before it is off by default.
    The default widths ``(256, 128, 64, 32, 16)`` give 3.485 M parameters
    with ``'deconv'`` (2.874 M with ``'bilinear'``); with the SwinV2-B core
    and metric head the whole model has 105.3 M, the design's figure.

    Losses: by default (``loss_decode=None``) the head builds
    ``ZoeMaskedDiceLoss`` (``loss_dice``, weight ``lambda_dis * dice_ratio``)
    and ``ZoeSoftmaxFocalLoss`` (``loss_focal``, weight
    ``lambda_dis * (1 - dice_ratio)``), both with this head's
    ``ignore_index``. The logged items are then ``aux.loss_dice`` and
    ``aux.loss_focal`` and their sum is ``lambda_dis * L_seg`` with
    ``L_seg = a * Dice + (1 - a) * Focal``, ``a = dice_ratio``. Logits are
    upsampled (bilinear, ``align_corners``) to the label size for the loss
    (:meth:`BaseDecodeHead.loss_by_feat`). An explicit ``loss_decode`` is
    used as given and then ``lambda_dis`` / ``dice_ratio`` / ``dice_cfg`` /
    ``focal_cfg`` must not be set.

    Labels are read from ``gt_sem_seg``. When the data preprocessor padded
    the labels of a batch to a common size (metainfo ``gt_seg_shape`` = the
    size before padding), each sample's logits are resized to its own
    unpadded size and placed at the top-left of the padded canvas, so logits
    and labels stay aligned; the padding (255) is ignored by the losses.

    Args:
        in_channels (Sequence[int]): Channels of the pyramid levels, from the
            lowest resolution up (one per level: five for a ZoeCoreOutput).
            Defaults to ``(256,) * 5``.
        block_channels (Sequence[int]): Output widths of the up blocks, one
            per input. Defaults to ``(256, 128, 64, 32, 16)``.
        upsample_mode (str): ``'deconv'`` (learned 2x2 stride-2 transposed
            conv) or ``'bilinear'``. Defaults to ``'deconv'``.
        num_classes (int): Number of classes (NYU-14: class 0 "unknown" is a
            real class). Defaults to 14.
        lambda_dis (float, optional): Weight of ``L_seg`` relative to the
            depth loss; None means 0.1 (when ``loss_decode`` is None).
        dice_ratio (float, optional): ``a`` in ``a * Dice + (1 - a) * Focal``,
            in [0, 1]; None means 0.5 (when ``loss_decode`` is None).
        dice_cfg (dict, optional): Extra arguments of ``ZoeMaskedDiceLoss``
            (e.g. ``smooth``).
        focal_cfg (dict, optional): Extra arguments of
            ``ZoeSoftmaxFocalLoss`` (e.g. ``gamma``, per-class ``alpha``).
        loss_decode (dict | Sequence[dict], optional): Explicit loss configs
            (mmseg style) replacing the default pair. Defaults to None.
        dropout_ratio (float): Dropout before ``conv_seg``. Defaults to 0.
        align_corners (bool): ``align_corners`` of every bilinear resize.
            Defaults to True.
        ignore_index (int): Label ignored by the losses. Defaults to 255.
        init_cfg (dict | list[dict], optional): Initialisation config; the
            convs use ConvModule's Kaiming init, ``conv_seg`` N(0, 0.01).
        **kwargs: Other :class:`BaseDecodeHead` arguments (``conv_cfg``,
            ``norm_cfg``, ``act_cfg``, ``sampler``, ...).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, ) * 5,
                 block_channels: Sequence[int] = (256, 128, 64, 32, 16),
                 upsample_mode: str = 'deconv',
                 num_classes: int = 14,
                 lambda_dis: Optional[float] = None,
                 dice_ratio: Optional[float] = None,
                 dice_cfg: Optional[dict] = None,
                 focal_cfg: Optional[dict] = None,
                 loss_decode=None,
                 dropout_ratio: float = 0.0,
                 align_corners: bool = True,
                 ignore_index: int = 255,
                 init_cfg=dict(
                     type='Normal', std=0.01, override=dict(name='conv_seg')),
                 **kwargs) -> None:
        legacy = sorted({'in_index', 'input_transform'} & set(kwargs))
        if legacy:
            raise ValueError(
                f'ZoeUNetSegHead: {legacy} are gone: the head reads the '
                "pyramid of the core's ZoeCoreOutput by name; remove them "
                'from the config')
        in_channels = list(in_channels)
        block_channels = list(block_channels)
        if len(block_channels) != len(in_channels) or len(in_channels) < 1:
            raise ValueError(
                f'ZoeUNetSegHead: block_channels {block_channels} needs one '
                f'width per input (in_channels {in_channels})')
        if 'channels' in kwargs:
            raise ValueError('ZoeUNetSegHead: set block_channels; channels '
                             'is block_channels[-1]')
        if loss_decode is None:
            loss_decode = self._default_losses(lambda_dis, dice_ratio,
                                               dice_cfg, focal_cfg,
                                               ignore_index)
        elif any(v is not None
                 for v in (lambda_dis, dice_ratio, dice_cfg, focal_cfg)):
            raise ValueError(
                'ZoeUNetSegHead: give either loss_decode or lambda_dis/'
                'dice_ratio/dice_cfg/focal_cfg, not both')
        with quiet_base_head_init():
            # BaseDecodeHead's multiple_select bookkeeping keeps the list of
            # widths; the selection itself is by name (forward).
            super().__init__(
                in_channels,
                block_channels[-1],
                num_classes=num_classes,
                in_index=list(range(len(in_channels))),
                input_transform='multiple_select',
                loss_decode=qualify_loss_cfgs(loss_decode),
                dropout_ratio=dropout_ratio,
                align_corners=align_corners,
                ignore_index=ignore_index,
                init_cfg=init_cfg,
                **kwargs)
        self.block_channels = block_channels
        self.upsample_mode = upsample_mode
        blocks = []
        prev = in_channels[0]
        for i, width in enumerate(block_channels):
            skip = in_channels[i + 1] if i + 1 < len(in_channels) else 0
            blocks.append(
                _ZoeUNetUpBlock(
                    prev,
                    skip,
                    width,
                    upsample_mode=upsample_mode,
                    align_corners=align_corners,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg))
            prev = width
        self.up_blocks = nn.ModuleList(blocks)

    @staticmethod
    def _default_losses(lambda_dis: Optional[float],
                        dice_ratio: Optional[float],
                        dice_cfg: Optional[dict],
                        focal_cfg: Optional[dict],
                        ignore_index: int) -> List[dict]:
        """Loss configs of ``lambda_dis * (a * Dice + (1 - a) * Focal)``."""
        lambda_dis = 0.1 if lambda_dis is None else float(lambda_dis)
        dice_ratio = 0.5 if dice_ratio is None else float(dice_ratio)
        if not 0.0 <= dice_ratio <= 1.0:
            raise ValueError(f'dice_ratio must be in [0, 1], got {dice_ratio}')
        if lambda_dis < 0:
            raise ValueError(f'lambda_dis must be >= 0, got {lambda_dis}')
        dice = dict(dice_cfg or {})
        focal = dict(focal_cfg or {})
        for name, cfg in (('dice_cfg', dice), ('focal_cfg', focal)):
            clash = {'type', 'loss_weight', 'ignore_index'} & set(cfg)
            if clash:
                raise ValueError(f'ZoeUNetSegHead: {name} must not set '
                                 f'{sorted(clash)} (set by the head)')
        dice.setdefault('loss_name', 'loss_dice')
        focal.setdefault('loss_name', 'loss_focal')
        return [
            dict(
                type='mmzoe.ZoeMaskedDiceLoss',
                loss_weight=lambda_dis * dice_ratio,
                ignore_index=ignore_index,
                **dice),
            dict(
                type='mmzoe.ZoeSoftmaxFocalLoss',
                loss_weight=lambda_dis * (1.0 - dice_ratio),
                ignore_index=ignore_index,
                **focal),
        ]

    def forward(self, inputs: Union[ZoeCoreOutput, Sequence[Tensor]]
                ) -> Tensor:
        """Compute logits at twice the resolution of the finest level.

        Args:
            inputs (ZoeCoreOutput | Sequence[Tensor]): The core's output (its
                :meth:`~mmzoe.models.utils.ZoeCoreOutput.pyramid` is used) or
                the pyramid itself, coarse to fine.

        Returns:
            Tensor: Logits (N, num_classes, 2*h, 2*w) with (h, w) the size of
            the finest level (the network input size for the DPT neck).
        """
        feats = inputs.pyramid() if isinstance(inputs, ZoeCoreOutput) \
            else tuple(inputs)
        if len(feats) != len(self.in_channels):
            raise ValueError(
                f'ZoeUNetSegHead: got {len(feats)} pyramid levels, '
                f'in_channels has {len(self.in_channels)}')
        for i, (feat, ch) in enumerate(zip(feats, self.in_channels)):
            if feat.shape[1] != ch:
                raise ValueError(
                    f'ZoeUNetSegHead: pyramid level {i} has '
                    f'{feat.shape[1]} channels, expected {ch}')
        x = feats[0]
        for i, block in enumerate(self.up_blocks):
            skip = feats[i + 1] if i + 1 < len(feats) else None
            x = block(x, skip)
        return self.cls_seg(x)

    def _logits_and_labels(self, seg_logits: Tensor,
                           batch_data_samples: SampleList
                           ) -> Tuple[Tensor, Tensor]:
        """Resize logits to each sample's label size on a common canvas.

        Args:
            seg_logits (Tensor): Logits (N, C, h, w).
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_sem_seg`` (and optionally ``gt_seg_shape`` metainfo).

        Returns:
            tuple[Tensor, Tensor]: Logits (N, C, H, W) and int64 labels
            (N, H, W); (H, W) is the largest label size, outside each
            sample's own label area logits are 0 and labels ``ignore_index``.
        """
        labels, shapes = [], []
        for i, sample in enumerate(batch_data_samples):
            if 'gt_sem_seg' not in sample:
                raise KeyError(
                    f'ZoeUNetSegHead: data sample {i} has no gt_sem_seg; the '
                    'segmentation branch needs labels (255 = ignore) or '
                    'remove auxiliary_head from the model config')
            label = sample.gt_sem_seg.data
            if label.dim() == 3:
                label = label[0]
            shape = sample.metainfo.get('gt_seg_shape')
            if shape is not None:
                label = label[:int(shape[0]), :int(shape[1])]
            labels.append(label.long())
            shapes.append(tuple(label.shape))
        height = max(s[0] for s in shapes)
        width = max(s[1] for s in shapes)
        if all(s == (height, width) for s in shapes):
            logits = F.interpolate(
                seg_logits, size=(height, width), mode='bilinear',
                align_corners=self.align_corners)
            return logits, torch.stack(labels)
        canvas = torch.full((len(labels), height, width),
                            self.ignore_index,
                            dtype=torch.long,
                            device=seg_logits.device)
        resized = []
        for i, (label, (h, w)) in enumerate(zip(labels, shapes)):
            canvas[i, :h, :w] = label
            logit = F.interpolate(
                seg_logits[i:i + 1], size=(h, w), mode='bilinear',
                align_corners=self.align_corners)
            resized.append(F.pad(logit, (0, width - w, 0, height - h)))
        return torch.cat(resized), canvas

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Segmentation losses on logits resized to the label size.

        Args:
            seg_logits (Tensor): Output of :meth:`forward`.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: One entry per ``loss_name`` (summed if names
            repeat) and ``acc_seg`` (pixel accuracy in %, not a loss).
        """
        logits, labels = self._logits_and_labels(seg_logits,
                                                 batch_data_samples)
        weight = None
        if self.sampler is not None:
            weight = self.sampler.sample(logits, labels.unsqueeze(1))
        losses = sum_losses(
            self.loss_decode, lambda loss_fn: loss_fn(
                logits, labels, weight=weight,
                ignore_index=self.ignore_index))
        losses['acc_seg'] = accuracy(
            logits.detach(), labels, ignore_index=self.ignore_index)
        return losses
