"""Softmax multi-class Dice loss with pixel masking (``ignore_index``)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS
from .seg_loss_utils import MaskedSegLoss


@MODELS.register_module()
class ZoeMaskedDiceLoss(MaskedSegLoss):
    r"""Soft multi-class Dice loss on softmax probabilities.

    With ``p`` the softmax of the logits, ``t`` the one-hot labels and ``m``
    the pixel mask (1 on labelled pixels, 0 on pixels labelled
    ``ignore_index``; times the optional per-pixel ``weight``), for every
    class ``c`` the sums run over **all pixels of the batch** (batch dice):

    .. math::

        D_c = \frac{2\sum m\,p_c\,t_c + s}{\sum m\,p_c + \sum m\,t_c + s},
        \qquad L = w \cdot \Bigl(1 - \frac{1}{C}\sum_{c=0}^{C-1} D_c\Bigr)

    i.e. ignored pixels are removed from both the prediction and the target,
    ``s`` (``smooth``, default 1) is added to numerator and denominator, and
    the loss is the **unweighted mean over all C classes** (class 0
    "unknown" counts as a real class). A class absent from the labels
    scores ``s / (sum m p_c + s)``, so probability mass put on it is
    penalised, and a class absent from both scores 1 (no penalty).
    A batch without labelled pixels gives exactly 0, still connected to the
    graph, with zero gradient, and increments ``num_empty_batches`` (with a
    rate-limited warning).

    Unlike mmseg's ``DiceLoss`` (which drops the *channel* ``ignore_index``)
    this masks *pixels*. The call is that of :class:`MaskedSegLoss`.

    Args:
        smooth (float): Additive smoothing ``s``. Defaults to 1.0.
        ignore_index, loss_weight, loss_name: see :class:`MaskedSegLoss`.
            Defaults to 255, 1.0 and 'loss_dice'.
    """

    def __init__(self,
                 smooth: float = 1.0,
                 ignore_index: Optional[int] = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__(ignore_index, loss_weight, loss_name)
        if smooth < 0:
            raise ValueError(f'smooth must be >= 0, got {smooth}')
        self.smooth = float(smooth)

    def _loss(self, logits: Tensor, labels: Tensor, valid: Tensor,
              mask: Tensor) -> Tensor:
        num_classes = logits.shape[1]
        probs = F.softmax(logits, dim=1)
        one_hot = F.one_hot(labels, num_classes).permute(0, 3, 1, 2).to(
            probs.dtype)
        m = mask.unsqueeze(1)
        dims = (0, 2, 3)
        intersection = (probs * one_hot * m).sum(dims)
        cardinality = (probs * m).sum(dims) + (one_hot * m).sum(dims)
        if not bool(valid.any()):
            return self._empty((probs * m).sum())
        # smooth == 0 and a class absent everywhere would give 0/0 -> 1
        denom = (cardinality + self.smooth).clamp(min=1e-12)
        dice = (2.0 * intersection + self.smooth) / denom
        dice = torch.where(cardinality + self.smooth > 0, dice,
                           torch.ones_like(dice))
        return self.loss_weight * (1.0 - dice.mean())
