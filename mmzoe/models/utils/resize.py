"""The one resize rule of the ZoeDepth head: bilinear, corners aligned."""
from typing import Sequence

from mmseg.models.utils import resize
from torch import Tensor


def upsample_to(x: Tensor, size: Sequence[int]) -> Tensor:
    """Resize ``x`` (B, C, h, w) to ``size`` (H, W) with mmseg's ``resize``,
    bilinear with ``align_corners=True`` (as everywhere in ZoeDepth; no
    mmseg alignment warning: the sizes are the network's own).

    Args:
        x (Tensor): Map of shape (B, C, h, w).
        size (Sequence[int]): Target (H, W).

    Returns:
        Tensor: Map of shape (B, C, H, W).
    """
    return resize(x, size=tuple(size), mode='bilinear', align_corners=True,
                  warning=False)
