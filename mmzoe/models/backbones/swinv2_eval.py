"""Eval-mode forward of timm's SwinV2 blocks (``ZoeSwinV2(fused_eval=True)``).

The same function as timm's ``SwinTransformerV2Block.forward`` in eval mode
(drop path and dropout are identities), with fewer passes over memory:

* the cyclic shift (``torch.roll``), the zero padding (which timm applies
  also when it pads nothing: a full copy) and the window partition become
  one row gather with a precomputed token order; the window merge and the
  reverse shift another one (exact: a permutation of rows);
* patch merging skips timm's zero padding of even-sized maps (a copy);
* the MLP's ``fc1`` + GELU and ``fc2`` run with the bias (and the GELU)
  inside oneDNN's GEMM (:func:`~mmzoe.models.utils.fused_eval.linear_eval`,
  rounding only).

It applies where :func:`~mmzoe.models.utils.fused_eval.fused_eval_enabled`
holds (no gradient, float32 CPU, not traced or compiled) and the block is in
eval mode with a static shift mask and no padding (the input is a multiple
of the window, as for every SwinV2 core at its own size); otherwise the
block's own forward runs.
"""
from typing import Dict, Tuple

import torch
import torch.nn as nn
from timm.layers.activations import GELU as TimmGELU
from timm.models.swin_transformer_v2 import PatchMerging, window_partition

from ..utils.fused_eval import fused_eval_enabled, linear_eval

# (H, W, window, shift, device) -> (gather order, inverse order)
_ORDERS: Dict[tuple, Tuple[torch.Tensor, torch.Tensor]] = {}


def window_order(h: int, w: int, window: Tuple[int, int],
                 shift: Tuple[int, int],
                 device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Token orders of the shifted window partition of an (h, w) map.

    Args:
        h (int): Map height (a multiple of ``window[0]``).
        w (int): Map width (a multiple of ``window[1]``).
        window (tuple[int, int]): Window size.
        shift (tuple[int, int]): Cyclic shift (timm rolls by ``-shift``).
        device (torch.device): Device of the index tensors.

    Returns:
        tuple[Tensor, Tensor]: ``order`` (h*w,) int64 with
        ``x.view(h*w, C)[order]`` equal to timm's
        ``window_partition(roll(x, -shift))`` flattened, and its inverse
        permutation (window merge + reverse shift).
    """
    key = (h, w, tuple(window), tuple(shift), str(device))
    if key not in _ORDERS:
        pos = torch.arange(h * w, device=device).view(1, h, w, 1)
        if any(shift):
            pos = torch.roll(pos, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        order = window_partition(pos, tuple(window)).reshape(-1)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=device)
        _ORDERS[key] = (order, inverse)
    return _ORDERS[key]


def _exact_gelu(act: nn.Module) -> bool:
    """torch's or timm's module for the exact (erf) GELU."""
    if isinstance(act, nn.GELU):
        return act.approximate == 'none'
    return type(act) is TimmGELU


def _plain_mlp(mlp: nn.Module) -> bool:
    """timm ``Mlp`` with an exact GELU and no hidden norm (dropout is an
    identity in eval mode)."""
    return (isinstance(getattr(mlp, 'fc1', None), nn.Linear)
            and isinstance(getattr(mlp, 'fc2', None), nn.Linear)
            and _exact_gelu(getattr(mlp, 'act', None))
            and isinstance(getattr(mlp, 'norm', nn.Identity()), nn.Identity))


def block_eval_applies(block: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`block_forward_eval` may run ``block`` on ``x``."""
    if block.training or getattr(block, 'dynamic_mask', False):
        return False
    if not fused_eval_enabled(x, block.mlp.fc1.weight):
        return False
    _, h, w, _ = x.shape
    ws = block.window_size
    return h % ws[0] == 0 and w % ws[1] == 0


def block_forward_eval(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm ``SwinTransformerV2Block.forward`` in eval mode, see the module
    docstring (check :func:`block_eval_applies` first).

    Args:
        block (nn.Module): A timm ``SwinTransformerV2Block``.
        x (Tensor): (B, H, W, C) tokens.

    Returns:
        Tensor: (B, H, W, C).
    """
    b, h, w, c = x.shape
    area = block.window_size[0] * block.window_size[1]
    order, inverse = window_order(h, w, block.window_size, block.shift_size,
                                  x.device)
    tokens = x.reshape(b, h * w, c)
    # one window covering the map, no shift: the order is the identity
    single = (h * w == area and not any(block.shift_size))
    if single:
        windows = tokens
    elif b == 1:
        windows = tokens[0].index_select(0, order)
    else:
        windows = tokens.index_select(1, order)
    attn = block.attn(windows.reshape(-1, area, c), mask=block.attn_mask)
    attn = attn.reshape(b, h * w, c)
    if single:
        pass
    elif b == 1:
        attn = attn[0].index_select(0, inverse).view(b, h * w, c)
    else:
        attn = attn.index_select(1, inverse)
    x = tokens + block.norm1(attn)
    mlp = block.mlp
    if _plain_mlp(mlp):
        y = linear_eval(linear_eval(x, mlp.fc1, gelu=True), mlp.fc2)
    else:
        y = mlp(x)
    x = x + block.norm2(y)
    return x.reshape(b, h, w, c)


def downsample_eval(downsample: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A stage's ``downsample`` in eval mode: timm's ``PatchMerging``
    without its zero padding when the map is even-sized (the padding is a
    full copy even when it pads nothing); other modules run as they are.

    Args:
        downsample (nn.Module): ``stage.downsample``.
        x (Tensor): (B, H, W, C) tokens.

    Returns:
        Tensor: The downsampled tokens.
    """
    b, h, w, c = x.shape
    if type(downsample) is not PatchMerging or h % 2 or w % 2:
        return downsample(x)
    x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2,
                                                         5).flatten(3)
    return downsample.norm(downsample.reduction(x))
