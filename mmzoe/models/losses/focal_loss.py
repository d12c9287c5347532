"""Softmax multi-class focal loss with pixel masking (pure PyTorch)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS
from .seg_loss_utils import MaskedSegLoss


@MODELS.register_module()
class ZoeSoftmaxFocalLoss(MaskedSegLoss):
    r"""Multi-class focal loss on softmax probabilities.

    For a labelled pixel with class ``y`` and softmax probability
    ``p_y``:

    .. math::

        \ell = -\alpha_y\,(1 - p_y)^{\gamma}\,\log p_y,
        \qquad L = w \cdot \frac{\sum_i m_i\,\ell_i}{\#\{i: \text{label}_i
        \ne \text{ignore}\}}

    i.e. the **mean over labelled pixels** of the whole batch (pixels labelled
    ``ignore_index`` contribute neither to the sum nor to the count; the
    optional per-pixel ``weight`` ``m_i`` scales the terms but not the count,
    as mmseg's losses do). ``log p_y`` comes from ``log_softmax`` (stable for
    large logits). ``alpha`` is ``None`` (all 1), a float (the same for every
    class) or a per-class list of length C; the sum is *not* renormalised by
    the alphas. With ``gamma=0`` and no alpha this is the cross-entropy.
    A batch without labelled pixels gives exactly 0, connected to the graph,
    with zero gradient, and increments ``num_empty_batches`` (with a
    rate-limited warning).

    mmseg's ``FocalLoss`` is sigmoid based and needs ``mmcv.ops``; this one
    runs anywhere. The call is that of :class:`MaskedSegLoss`.

    Args:
        gamma (float): Focusing parameter, >= 0. Defaults to 2.0.
        alpha (float | Sequence[float], optional): Class balancing factor(s).
            Defaults to None.
        ignore_index, loss_weight, loss_name: see :class:`MaskedSegLoss`.
            Defaults to 255, 1.0 and 'loss_focal'.
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: Optional[Union[float, Sequence[float]]] = None,
                 ignore_index: Optional[int] = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_focal') -> None:
        super().__init__(ignore_index, loss_weight, loss_name)
        if gamma < 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        self.gamma = float(gamma)
        if alpha is None or isinstance(alpha, (int, float)):
            self.alpha = alpha if alpha is None else float(alpha)
        else:
            self.alpha = [float(a) for a in alpha]
            if len(self.alpha) == 0:
                raise ValueError('alpha must not be an empty list')

    def _loss(self, logits: Tensor, labels: Tensor, valid: Tensor,
              mask: Tensor) -> Tensor:
        num_classes = logits.shape[1]
        log_p = F.log_softmax(logits, dim=1).gather(
            1, labels.unsqueeze(1)).squeeze(1)
        p = log_p.exp()
        # clamp keeps d/dp (1-p)^gamma finite for 0 < gamma < 1 at p == 1
        one_minus_p = (1.0 - p).clamp(min=torch.finfo(torch.float32).tiny)
        term = -one_minus_p.pow(self.gamma) * log_p
        if isinstance(self.alpha, list):
            if len(self.alpha) != num_classes:
                raise ValueError(
                    f'{self._loss_name}: alpha has {len(self.alpha)} entries '
                    f'but the logits have {num_classes} classes')
            alpha = term.new_tensor(self.alpha)[labels]
            term = term * alpha
        elif self.alpha is not None:
            term = term * self.alpha
        # ignored pixels contribute exactly 0 (torch.where, not a product)
        total = torch.where(valid, term * mask, term.new_zeros(())).sum()
        num_valid = int(valid.sum())
        if num_valid == 0:
            return self._empty(total)
        return self.loss_weight * total / num_valid
