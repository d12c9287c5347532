"""ZoeDepth scale-invariant log loss (SILog): docs/upstream_facts.md."""
import logging
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmzoe.registry import MODELS


def _as_nchw(x: Tensor, name: str) -> Tensor:
    """Bring a depth map to (B, 1, H, W), accepting (B, H, W)."""
    if x.ndim == 3:
        return x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f'ZoeSILogLoss: {name} must have shape (B, 1, H, W) '
                         f'or (B, H, W), got {tuple(x.shape)}')
    return x


@MODELS.register_module()
class ZoeSILogLoss(nn.Module):
    r"""Scale-invariant log loss of ZoeDepth.

    The prediction is bilinearly resized (``align_corners=True``) to the
    ground-truth size; pixels with ``min_depth < gt < max_depth`` (strict;
    NaN/inf ground truth is never valid), optionally intersected with
    ``valid_mask``, are pooled over **the whole batch**:

    .. math::

        g = \ln(\hat d + 10^{-7}) - \ln(d + 10^{-7}), \qquad
        D = \mathrm{Var}_{unbiased}(g) + \beta\,\overline{g}^2, \qquad
        L = w \cdot 10 \sqrt{D}

    computed in float32 even under autocast.

    Robustness (never NaN/inf for finite predictions):

    * fewer than two valid pixels (unbiased variance undefined): the loss is
      exactly 0, still attached to the graph with zero gradient;
      ``num_empty_batches`` counts these batches and a warning is logged for
      the 1st, 2nd, 4th, 8th ... one;
    * ``D <= 0`` (all ``g`` equal to 0, or rounding): loss 0 with zero
      gradient instead of the infinite derivative of ``sqrt`` at 0; the value
      is unchanged wherever ``D > 0``;
    * negative predictions (impossible for the ZoeDepth head up to tiny
      attractor overshoots) are clamped to 0 before the log.

    A NaN or infinite *prediction* on a valid pixel is not masked: the loss
    is then non-finite, so that a diverged model is seen (and stopped by
    :class:`~mmzoe.engine.hooks.ZoeDivergenceHook`) instead of training on
    the pixels that happen to stay finite. Only the ground truth decides
    which pixels count.

    Args:
        beta (float): Weight of the squared mean (``\beta``). Defaults to 0.15.
        scale (float): Multiplier of ``sqrt(D)``. Defaults to 10.
        min_depth (float): Exclusive lower bound of valid GT. Defaults to 1e-3.
        max_depth (float): Exclusive upper bound of valid GT. Defaults to 10.
        eps (float): Added inside both logs. Defaults to 1e-7.
        align_corners (bool): For the resize of the prediction.
            Defaults to True.
        loss_weight (float): Multiplier ``w``. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_`` to
            be back-propagated. Defaults to 'loss_silog'.
    """

    def __init__(self,
                 beta: float = 0.15,
                 scale: float = 10.0,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 eps: float = 1e-7,
                 align_corners: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_silog') -> None:
        super().__init__()
        if not min_depth < max_depth:
            raise ValueError('ZoeSILogLoss: expected min_depth < max_depth, '
                             f'got {min_depth} and {max_depth}')
        self.beta = float(beta)
        self.scale = float(scale)
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.eps = float(eps)
        self.align_corners = align_corners
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.num_empty_batches = 0

    @property
    def loss_name(self) -> str:
        """Name of the loss item in the loss dict."""
        return self._loss_name

    def _log_differences(self, pred: Tensor, target: Tensor,
                         valid_mask: Optional[Tensor]) -> Tensor:
        """Log differences ``g`` of the valid pixels of one batch slice."""
        pred = _as_nchw(pred, 'pred').float()
        target = _as_nchw(target, 'target').float()
        if pred.shape[0] != target.shape[0]:
            raise ValueError('ZoeSILogLoss: batch sizes differ, pred '
                             f'{tuple(pred.shape)} vs target '
                             f'{tuple(target.shape)}')
        if pred.shape[-2:] != target.shape[-2:]:
            pred = F.interpolate(
                pred,
                size=target.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners)
        mask = (target > self.min_depth) & (target < self.max_depth)
        if valid_mask is not None:
            valid_mask = _as_nchw(valid_mask, 'valid_mask')
            if valid_mask.shape != target.shape:
                raise ValueError('ZoeSILogLoss: valid_mask shape '
                                 f'{tuple(valid_mask.shape)} differs from '
                                 f'target shape {tuple(target.shape)}')
            mask = mask & valid_mask.bool()
        pred_m = pred[mask].clamp(min=0)
        return torch.log(pred_m + self.eps) - torch.log(target[mask] +
                                                        self.eps)

    def _warn(self, count: int, what: str) -> None:
        if count & (count - 1) == 0:  # 1, 2, 4, 8, ...
            print_log(
                f'{self.loss_name}: {what}; ({count} such batches so far).',
                logger='current',
                level=logging.WARNING)

    def forward(self,
                pred: Tensor,
                target: Union[Tensor, Sequence[Tensor]],
                valid_mask: Optional[Union[Tensor, Sequence[Tensor]]] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predicted depth (B, 1, h, w) or (B, h, w), metres.
            target (Tensor | Sequence[Tensor]): Ground-truth depth
                (B, 1, H, W) / (B, H, W), 0 (or anything outside the valid
                range) = invalid; or a sequence of B maps (1, H_i, W_i) /
                (H_i, W_i) of different sizes, each prediction being resized
                to its own target.
            valid_mask (Tensor | Sequence[Tensor], optional): Extra mask of
                the target's shape(s); nonzero = may be used.
            **kwargs: Ignored (mmseg passes ``weight`` / ``ignore_index``).

        Returns:
            Tensor: Scalar float32 loss.
        """
        with torch.autocast(device_type=pred.device.type, enabled=False):
            if isinstance(target, Tensor):
                g = self._log_differences(pred, target, valid_mask)
            else:
                g = self._log_differences_list(pred, target, valid_mask)
            if g.numel() < 2:
                self.num_empty_batches += 1
                self._warn(
                    self.num_empty_batches,
                    f'a batch has {g.numel()} valid depth pixel(s) (< 2); '
                    'the loss is 0 with zero gradient')
                # Empty slice: exactly 0, attached to the graph, zero grad.
                return pred.reshape(-1)[:0].float().sum()
            d = torch.var(g) + self.beta * torch.pow(torch.mean(g), 2)
            # d <= 0 is False for a NaN d: a NaN stays NaN (never masked).
            nonpositive = d <= 0
            safe_d = torch.where(nonpositive, torch.ones_like(d), d)
            loss = torch.where(nonpositive, torch.zeros_like(d),
                               torch.sqrt(safe_d))
            return self.loss_weight * self.scale * loss

    def _log_differences_list(
            self, pred: Tensor, targets: Sequence[Tensor],
            valid_masks: Optional[Sequence[Tensor]]) -> Tensor:
        """Pool ``g`` over samples whose targets have different sizes."""
        if len(targets) != pred.shape[0]:
            raise ValueError(f'ZoeSILogLoss: got {len(targets)} targets for '
                             f'a batch of {pred.shape[0]} predictions')
        if valid_masks is not None and len(valid_masks) != len(targets):
            raise ValueError('ZoeSILogLoss: valid_mask and target lists '
                             'differ in length')
        gs: List[Tensor] = []
        for i, tgt in enumerate(targets):
            tgt = tgt if tgt.ndim == 3 else tgt.unsqueeze(0)
            vm = None
            if valid_masks is not None:
                vm = valid_masks[i]
                vm = (vm if vm.ndim == 3 else vm.unsqueeze(0))[None]
            gs.append(self._log_differences(pred[i:i + 1], tgt[None], vm))
        return torch.cat(gs)

    def extra_repr(self) -> str:
        return (f'beta={self.beta}, scale={self.scale}, '
                f'depth=({self.min_depth}, {self.max_depth}), '
                f'loss_weight={self.loss_weight}')
