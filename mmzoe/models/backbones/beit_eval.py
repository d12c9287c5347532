"""Eval-mode forward of the BEiT blocks (``ZoeBEiT(fused_eval=True)``).

The same function as timm's ``beit.Block.forward`` in eval mode (drop path
and dropout are identities) with fewer passes over memory:

* layer scale and residual in one operation: ``x + gamma * y`` as
  ``torch.addcmul(x, gamma, y)`` written into ``y`` (the fresh output of the
  attention or MLP projection) instead of a multiply and an add into two new
  tensors (``y + x`` in place where the block has no layer scale);
* with the strided-copy position bias (``toeplitz_bias=True``), the *keys and
  values* are put in reversed patch order instead of the queries. The bias
  row of query ``(yi, xi)`` over keys in reversed order is then the window
  ``[yi:yi+gh, xi:xi+gw]`` of the resized table as it is (no flip), and the
  attention output is already in the input order: one row gather of the
  key/value half of ``qkv`` replaces the gather of the queries, the gather of
  the outputs (which also made the outputs contiguous first) and the flip of
  the table. Attention is invariant to a common permutation of its keys and
  values, so only the summation order of the softmax changes.

The matrix products stay ``F.linear`` (MKL's ``addmm``): at BEiT's token
counts (769 tokens at 384x512, weights up to 4096x1024) oneDNN's
``_linear_pointwise`` with the bias and GELU inside the GEMM was measured
slower than ``addmm`` + GELU on this project's CPUs, as it reorders the large
weights in every call (``docs/benchmarks.md``).

It applies where :func:`~mmzoe.models.utils.fused_eval.fused_eval_enabled`
holds (no gradient, float32 CPU, no autocast, not traced, compiled or under a
dispatch mode such as ``FlopCounterMode``) and the block is in eval mode;
otherwise the block's plain forward runs.
"""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..utils.fused_eval import fused_eval_enabled
from .beit_attention import ZoeBEiTAttention

Grid = Tuple[int, int]


def block_eval_applies(block: nn.Module, x: Tensor) -> bool:
    """Whether :func:`block_forward_eval` may run ``block`` on ``x``."""
    if block.training or not isinstance(block.attn, ZoeBEiTAttention):
        return False
    return fused_eval_enabled(x, block.attn.proj.weight, block.gamma_1)


def _residual(x: Tensor, gamma, y: Tensor) -> Tensor:
    """``x + gamma * y`` (``x + y`` without ``gamma``) written into the
    fresh tensor ``y``."""
    if gamma is None:
        return y.add_(x)
    return torch.addcmul(x, gamma, y, out=y)


def attention_eval(attn: ZoeBEiTAttention, x: Tensor, grid: Grid) -> Tensor:
    """``attn(x, grid)`` in eval mode; with ``toeplitz_bias`` (fused path)
    the keys and values in reversed patch order (module docstring).

    Args:
        attn (ZoeBEiTAttention): The attention (eval mode).
        x (Tensor): (B, 1 + gh*gw, C) normalised tokens.
        grid (tuple[int, int]): ``(gh, gw)``.

    Returns:
        Tensor: (B, 1 + gh*gw, C), the projected attention output.
    """
    if not (attn.toeplitz_bias and attn.fused
            and attn.relative_position_bias_table is not None):
        return attn(x, grid)
    b, n, _ = x.shape
    qkv = attn.project_qkv(x, grid)
    inner = qkv.shape[-1] // 3
    heads = attn.num_heads
    order = attn._reversed_order(n - 1, x.device)
    q = qkv[..., :inner].view(b, n, heads, -1).transpose(1, 2)
    if b == 1:  # a row gather of a 2-D view: no contiguous copy first
        kv = qkv[0, :, inner:].index_select(0, order).unsqueeze(0)
    else:
        kv = qkv[..., inner:].index_select(1, order)
    k = kv[..., :inner].view(b, n, heads, -1).transpose(1, 2)
    v = kv[..., inner:].view(b, n, heads, -1).transpose(1, 2)
    mask = attn.toeplitz_key_bias(grid).to(v.dtype)
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=attn.scale)
    return attn.proj(out.transpose(1, 2).reshape(b, n, -1))


def block_forward_eval(block: nn.Module, x: Tensor, grid: Grid) -> Tensor:
    """timm ``beit.Block`` forward in eval mode with the token grid passed
    to its attention, see the module docstring (check
    :func:`block_eval_applies` first).

    Args:
        block (nn.Module): A timm BEiT block whose attention is a
            :class:`ZoeBEiTAttention`.
        x (Tensor): (B, 1 + gh*gw, C) tokens (not modified).
        grid (tuple[int, int]): ``(gh, gw)``.

    Returns:
        Tensor: (B, 1 + gh*gw, C).
    """
    x = _residual(x, block.gamma_1,
                  attention_eval(block.attn, block.norm1(x), grid))
    return _residual(x, block.gamma_2, block.mlp(block.norm2(x)))
