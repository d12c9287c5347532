"""What the masked segmentation losses share: input checks, the call.

mmseg 1.2.2's ``DiceLoss`` drops a *channel* called ``ignore_index`` instead of
masking pixels labelled ``ignore_index``, and its ``FocalLoss`` needs
``mmcv.ops``; mmzoe's :class:`ZoeMaskedDiceLoss` and
:class:`ZoeSoftmaxFocalLoss` are pure PyTorch and derive from
:class:`MaskedSegLoss` below.
"""
import logging
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor


def prepare_seg_inputs(pred: Tensor,
                       target: Tensor,
                       ignore_index: Optional[int],
                       weight: Optional[Tensor] = None,
                       loss_name: str = 'loss'
                       ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Check logits / labels and build the valid-pixel mask.

    Args:
        pred (Tensor): Logits of shape (N, C, H, W).
        target (Tensor): Integer labels of shape (N, H, W) or (N, 1, H, W),
            values in ``[0, C)`` or ``ignore_index``.
        ignore_index (int, optional): Label of pixels excluded from the loss.
        weight (Tensor, optional): Non-negative per-pixel weights of shape
            (N, H, W) (or broadcastable to it). Defaults to None (all ones).
        loss_name (str): Name used in error messages.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``(logits, labels, valid,
        mask)``: float32 logits (N, C, H, W) (float64 stays float64); int64
        labels (N, H, W) with ignored pixels set to 0 (so they can be used as
        indices); bool ``valid`` (N, H, W), False on ignored pixels; pixel
        weights ``mask`` (N, H, W): ``weight`` (or 1) on valid pixels, 0
        elsewhere.

    Raises:
        ValueError: On wrong shapes or labels outside ``[0, C)`` that are not
            ``ignore_index``.
    """
    if pred.dim() != 4:
        raise ValueError(f'{loss_name}: expected logits of shape (N, C, H, W),'
                         f' got {tuple(pred.shape)}')
    if target.dim() == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if target.dim() != 3 or target.shape[0] != pred.shape[0] \
            or target.shape[1:] != pred.shape[2:]:
        raise ValueError(
            f'{loss_name}: labels of shape {tuple(target.shape)} do not match '
            f'logits of shape {tuple(pred.shape)} (expected (N, H, W))')
    if target.is_floating_point():
        raise ValueError(f'{loss_name}: labels must be integers, got '
                         f'{target.dtype}')
    num_classes = pred.shape[1]
    target = target.long()
    if ignore_index is not None:
        valid = target != ignore_index
    else:
        valid = torch.ones_like(target, dtype=torch.bool)
    bad = valid & ((target < 0) | (target >= num_classes))
    if bool(bad.any()):
        bad_values = torch.unique(target[bad]).tolist()[:10]
        raise ValueError(
            f'{loss_name}: labels {bad_values} are outside [0, {num_classes}) '
            f'and are not ignore_index={ignore_index}')
    mask = valid.to(torch.float64 if pred.dtype == torch.float64 else
                    torch.float32)
    if weight is not None:
        weight = weight.to(device=pred.device, dtype=mask.dtype)
        if weight.dim() == 4 and weight.shape[1] == 1:
            weight = weight[:, 0]
        mask = mask * weight.expand_as(mask)
    labels = torch.where(valid, target, torch.zeros_like(target))
    # float32 (or float64 for gradchecks) even under AMP
    logits = pred if pred.dtype == torch.float64 else pred.float()
    return logits, labels, valid, mask


class MaskedSegLoss(nn.Module):
    """Base of the pixel-masked segmentation losses (not registered).

    Holds ``ignore_index``, ``loss_weight``, ``loss_name`` and the
    ``num_empty_batches`` counter, checks the inputs
    (:func:`prepare_seg_inputs`) and calls :meth:`_loss`. Its ``forward``
    matches how ``BaseDecodeHead.loss_by_feat`` calls ``loss_decode``
    entries.

    Args:
        ignore_index (int, optional): Label excluded from the loss; a value
            passed to ``forward`` takes precedence.
        loss_weight (float): Multiplier ``w`` of the loss.
        loss_name (str): Name of the loss item in the loss dict; it must start
            with ``loss_`` to be back-propagated.
    """

    def __init__(self, ignore_index: Optional[int], loss_weight: float,
                 loss_name: str) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.num_empty_batches = 0

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (N, C, H, W) (any float dtype; computed in
                float32).
            target (Tensor): Labels (N, H, W) in ``[0, C)`` or
                ``ignore_index``.
            weight (Tensor, optional): Per-pixel weights (N, H, W).
                Defaults to None.
            ignore_index (int, optional): Overrides ``self.ignore_index``.
            **kwargs: Ignored (mmseg loss-call compatibility).

        Returns:
            Tensor: Scalar loss.
        """
        if ignore_index is None:
            ignore_index = self.ignore_index
        return self._loss(*prepare_seg_inputs(
            pred, target, ignore_index, weight, loss_name=self._loss_name))

    def _loss(self, logits: Tensor, labels: Tensor, valid: Tensor,
              mask: Tensor) -> Tensor:
        """The loss from the outputs of :func:`prepare_seg_inputs`."""
        raise NotImplementedError

    def _empty(self, zero: Tensor) -> Tensor:
        """The loss of a batch without labelled pixels: ``zero * 0`` (still
        in the graph, zero gradient), counted and logged (rate limited)."""
        warn_empty_batch(self, self._loss_name)
        return zero * 0.0

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name


def warn_empty_batch(module, loss_name: str) -> None:
    """Count a batch without labelled pixels and log it (rate limited).

    The count lives in ``module.num_empty_batches``; a warning is logged for
    the 1st, 2nd, 4th, 8th ... occurrence so a long run of unlabelled batches
    cannot flood the log.

    Args:
        module: The loss module owning the counter.
        loss_name (str): Name of the loss, used in the message.
    """
    module.num_empty_batches += 1
    n = module.num_empty_batches
    if n & (n - 1) == 0:
        print_log(
            f'{loss_name}: a batch has no labelled pixels (all ignore_index); '
            f'the loss is 0 with zero gradient ({n} such batches so far).',
            logger='current',
            level=logging.WARNING)
