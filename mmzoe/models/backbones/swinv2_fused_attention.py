"""Fused SwinV2 window attention (``ZoeSwinV2(attn_impl='sdpa')``).

timm's SwinV2 ``WindowAttention`` computes the cosine attention in separate
passes over the (windows, heads, N, N) logits: ``q̂ k̂ᵀ``, ``× scale``,
``+ 16·sigmoid(cpb)``, ``+ shift mask``, softmax and ``@ v``, and rebuilds the
continuous position bias (an MLP over the coordinate table, a gather and a
sigmoid over N² entries per head) in every call. This module computes the
same function with one :func:`torch.nn.functional.scaled_dot_product_attention`
call:

* ``q`` and ``k`` are L2-normalised and the clamped logit scale
  ``exp(min(logit_scale, ln 100))`` is folded into ``q``;
* the position bias ``16·sigmoid(cpb_mlp(table))[index]`` plus the shift mask
  (0 / −100) are passed as a float ``attn_mask``, with ``scale=1.0``.

In eval mode, when no gradient is needed, part of that bias is cached
(``cache_bias``):

* ``'table'`` (the default, also ``True``): the small per-head table
  ``16·sigmoid(cpb_mlp(table))`` as (h, (2W-1)²) in the attention dtype
  (SwinV2-B: 141 KB per block). Each call expands it to the (1, h, N, N)
  layout and adds the shift mask; no MLP per call. The expanded bias lives
  only during the call.
* ``'full'``: the whole additive bias, (1, h, N, N) or with the shift mask
  (nW, h, N, N): no gather per call, but resident for the life of the model
  (SwinV2-B at 384²: 531 MB, 18 x 21 MB in stage 3 alone), which would put
  the peak memory of an inference process above upstream's.
* ``False``: nothing cached, the MLP runs in every call (as timm).

The (1, h, N, N) bias is ``table[:, relative_position_index]``. When the
index is timm's formula (checked once per index tensor and version) and
``toeplitz_bias`` is set (``ZoeSwinV2(toeplitz_bias=True)``, speed switch
``toeplitz_bias``: off in the code, on in the shipped configs) it is built
without the index: ``gh`` strided copies of the table, and in training the table's
gradient is the sum of the bias gradient over every offset's token pairs
(:mod:`~mmzoe.models.utils.toeplitz_bias`), instead of ``index_select`` and
autograd's serial ``index_add_`` (SwinV2-B at 384²: 39 ms per block and
training step on one core). Another index keeps the gather (an int32 index
shared by all blocks of a window size, see :func:`share_position_index`).

The cache is keyed on the identity and version counter of every tensor it
depends on (the ``cpb_mlp`` weights, the coordinate table and index, and for
``'full'`` the shift mask), plus device and dtype, so in-place weight updates
(``load_state_dict``, optimiser steps) invalidate it; :meth:`train` clears it.
All three give bit-identical biases.

In the eval forward without gradients (``fused_eval``) a shifted block's
shift mask is not added to the bias of every window: the windows fall into
runs of consecutive windows with the same mask (SwinV2-B at 384², stage 1:
16 windows in 8 runs, 9 of the windows all zeros, 3 distinct non-zero
masks), and each run gets one attention call whose (1, h, N, N) bias (the
position bias, plus the run's mask when it is not all zeros) is broadcast
over its windows (:func:`mask_runs`). The biases have the values of the
(nW, h, N, N) sum (adding an all-zero mask changes no value), which is
never built (stage 1: 85 MB written and read per call, now three 5.3 MB
sums).

While ``torch.jit`` traces the module (what MMEngine's / fvcore's FLOP
counters and TorchScript export do) it runs the attention as explicit
``softmax(q kᵀ + bias) @ v`` matmuls without the bias cache: a traced custom
autograd function or fused kernel is an opaque node that those counters do not
count (SwinV2-B: ~10 G multiply-adds per 384² forward would go missing).
More generally, while :func:`~mmzoe.models.utils.dispatch.plain_ops_required`
holds (a trace, ``torch.compile`` or a ``TorchDispatchMode`` such as a FLOP
counter or fake tensors), the bias cache, the strided bias, the recomputed
MLP and the custom backward functions step aside for the plain operators.

The module subclasses timm's ``WindowAttention``: parameter and buffer names
are unchanged (checkpoints load as before) and timm's ``set_window_size`` /
buffer re-initialisation keep working. Only the rounding differs from timm
(≈1e-7 relative on the attention output).
"""
import math
from typing import Dict, Iterable, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.swin_transformer_v2 import WindowAttention

from mmzoe.registry import MODELS
from ..utils.dispatch import plain_ops_required
from ..utils.fused_eval import fused_eval_enabled, linear_eval
from ..utils.toeplitz_bias import (is_toeplitz_index, toeplitz_gather,
                                   toeplitz_table_grad)

_MAX_LOGIT_SCALE = math.log(1. / 0.01)  # ln(100), as timm / upstream
_NORM_EPS = 1e-12  # F.normalize's default
_CHUNK_BYTES = 8 * 2**20  # attention backward: probabilities per chunk


# What ``cache_bias`` may be (True means 'table').
BIAS_CACHE_MODES = ('table', 'full', 'none')


def bias_cache_mode(cache_bias: Union[bool, str, None]) -> str:
    """The cache mode named by a ``cache_bias`` value.

    Args:
        cache_bias (bool | str | None): ``True`` or ``'table'``, ``'full'``,
            ``False`` / ``None`` / ``'none'``.

    Returns:
        str: One of :data:`BIAS_CACHE_MODES`.

    Raises:
        ValueError: For any other value.
    """
    if cache_bias is True:
        return 'table'
    if cache_bias is False or cache_bias is None:
        return 'none'
    if isinstance(cache_bias, str) and cache_bias in BIAS_CACHE_MODES:
        return cache_bias
    raise ValueError('cache_bias must be True, False or one of '
                     f'{BIAS_CACHE_MODES}, got {cache_bias!r}.')


def share_position_index(modules: Iterable[nn.Module]) -> int:
    """Let the attention modules of one window size share one int32
    ``relative_position_index``.

    timm gives every block its own int64 (N, N) index (SwinV2-B at 384²: 24
    copies, 64 MB); the values depend only on the window size. The buffer
    is non-persistent (not in checkpoints), and ``index_select`` with an
    int32 index is faster than with int64. timm's buffer re-initialisation
    writes the same values in place; ``set_window_size`` registers a new
    (own) index.

    Args:
        modules (Iterable[nn.Module]): Modules; those with a
            ``relative_position_index`` buffer and ``window_size`` take part.

    Returns:
        int: The number of distinct index tensors afterwards.
    """
    shared: Dict[tuple, torch.Tensor] = {}
    for mod in modules:
        index = mod._buffers.get('relative_position_index', None) \
            if isinstance(mod, nn.Module) else None
        if index is None or not hasattr(mod, 'window_size'):
            continue
        key = (tuple(mod.window_size), index.device, tuple(index.shape))
        if key not in shared:
            if index.numel() and int(index.max()) >= 2**31:
                continue
            shared[key] = index.to(torch.int32).contiguous()
        elif not torch.equal(shared[key], index.to(torch.int32)):
            continue  # not timm's index: keep the module's own
        mod._buffers['relative_position_index'] = shared[key]
    return len(shared)


def _window_chunks(q: torch.Tensor, k: torch.Tensor,
                   mask: Optional[torch.Tensor]):
    """``(i, j, m)``: windows ``i:j`` of ``q``/``k`` use mask windows
    ``m:m + j - i``; chunks of about ``_CHUNK_BYTES`` of float32
    probabilities that never cross an image (the mask's windows repeat per
    image)."""
    num = q.shape[0]
    group = num if mask is None else mask.shape[0]
    if num % group:
        raise ValueError(f'{num} windows is not a multiple of the {group} '
                         'windows of the shift mask.')
    per_window = q.shape[1] * q.shape[2] * k.shape[2] * 4
    step = max(1, _CHUNK_BYTES // max(per_window, 1))
    for start in range(0, num, group):
        for c in range(0, group, step):
            i = start + c
            yield i, min(i + step, start + group), c


def mask_runs(mask: torch.Tensor) -> List[Tuple[int, int, Optional[int]]]:
    """Runs of consecutive windows with the same shift mask.

    Args:
        mask (Tensor): Shift mask (nW, N, N) of one image.

    Returns:
        list[tuple[int, int, int | None]]: ``(start, end, m)`` covering
        windows ``0 .. nW-1`` in order: windows ``start:end`` all have the
        mask ``mask[m]`` (``m = start``), or only zeros (``m`` None).
    """
    num = mask.shape[0]
    nonzero = mask.reshape(num, -1).ne(0).any(1).tolist()
    runs: List[Tuple[int, int, Optional[int]]] = []
    start = 0
    for w in range(1, num + 1):
        if (w == num or nonzero[w] != nonzero[start]
                or (nonzero[w] and not torch.equal(mask[w], mask[start]))):
            runs.append((start, w, start if nonzero[start] else None))
            start = w
    return runs


def _probs(q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor,
           mask: Optional[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """``softmax(q kᵀ + bias (+ mask))`` over keys, computed in ``dtype``."""
    logits = torch.matmul(q, k.transpose(-2, -1)).add_(bias)
    if mask is not None:
        logits.add_(mask)
    return torch.softmax(logits, dim=-1, dtype=dtype)


class _BiasedAttention(torch.autograd.Function):
    """``softmax(q kᵀ + bias + mask) v`` with gradients for q, k, v **and**
    the position bias.

    torch's CPU flash-attention kernel gives no gradient for ``attn_mask``, so
    with a trainable position bias ``scaled_dot_product_attention`` falls
    back to its slow unfused "math" path. Here the forward pass runs the
    fused kernel and keeps only q, k, v, the (1, h, N, N) bias, the shift
    mask (a buffer) and the output; the backward pass recomputes the
    probabilities and applies the softmax-attention gradient formulas
    (softmax in float32). Both passes go through the windows in chunks: the
    (chunk, h, N, N) sum of bias and shift mask is the only per-window bias
    ever built, so neither a (windows, h, N, N) bias nor its gradient is
    kept (the largest tensors of a SwinV2 block at 384x384).

    When the probabilities are no larger than the bias (one window in the
    call, no shift mask, float32: SwinV2-B's last two stages at batch 1), the
    forward pass computes and keeps them **instead of** the bias, so the
    backward pass does not recompute them; the saved memory is the same.
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                bias: torch.Tensor,
                mask: Optional[torch.Tensor]) -> torch.Tensor:
        # Detached: torch's CPU flash kernel refuses a mask that requires a
        # gradient (even with grad mode off, as here) and falls back to the
        # unfused math path, ~3x slower.
        q, k, v, bias = q.detach(), k.detach(), v.detach(), bias.detach()
        ctx.bias_dtype = bias.dtype
        ctx.keep_probs = (mask is None and bias.shape[0] == q.shape[0]
                          and q.dtype in (torch.float32, torch.float64))
        if ctx.keep_probs:
            probs = _probs(q, k, bias, None, q.dtype)
            out = torch.matmul(probs, v)
            ctx.save_for_backward(q, k, v, probs, out, None)
            return out
        out = torch.empty_like(q)
        for i, j, m in _window_chunks(q, k, mask):
            b = bias if bias.shape[0] == 1 else bias[i:j]
            if mask is not None:
                b = b + mask[m:m + j - i]
            out[i:j] = F.scaled_dot_product_attention(
                q[i:j], k[i:j], v[i:j], attn_mask=b, scale=1.0)
        ctx.save_for_backward(q, k, v, bias, out, mask)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, bias, out, mask = ctx.saved_tensors
        saved_probs = bias if ctx.keep_probs else None
        return _BiasedAttention._grads(ctx, grad_out, q, k, v, bias, out,
                                       mask, saved_probs) + (None, )

    @staticmethod
    def _grads(ctx, grad_out, q, k, v, bias, out, mask, saved_probs):
        """Gradients of q, k, v and the (1, h, N, N) or per-window bias."""
        grad_out = grad_out.to(v.dtype)
        need_q, need_k, need_v, need_bias = ctx.needs_input_grad[:4]
        grad_q = torch.empty_like(q) if need_q else None
        grad_k = torch.empty_like(k) if need_k else None
        grad_v = torch.empty_like(v) if need_v else None
        shared_bias = bias.shape[0] == 1
        grad_bias = None
        if need_bias and not shared_bias:
            grad_bias = torch.empty_like(bias)
        for i, j, m in _window_chunks(q, k, mask):
            d_out = grad_out[i:j]
            if saved_probs is not None:
                probs = saved_probs[i:j]
            else:
                probs = _probs(q[i:j], k[i:j],
                               bias if shared_bias else bias[i:j],
                               None if mask is None else mask[m:m + j - i],
                               torch.float32)
            # dS = P * (dP - rowsum(dO * O)), dP = dO vᵀ
            row = (d_out.float() * out[i:j].float()).sum(-1, keepdim=True)
            grad_s = torch.matmul(d_out, v[i:j].transpose(-2, -1)).float()
            if need_v:
                torch.matmul(probs.to(v.dtype).transpose(-2, -1), d_out,
                             out=grad_v[i:j])
            grad_s.sub_(row).mul_(probs)
            del probs
            if need_bias:
                if shared_bias:
                    part = (grad_s if j - i == 1 else
                            grad_s.sum(0, keepdim=True))
                    # grad_s is not written after this point: no copy.
                    if grad_bias is None:
                        grad_bias = part
                    else:
                        grad_bias.add_(part)
                else:
                    grad_bias[i:j] = grad_s
            grad_s = grad_s.to(q.dtype)
            if need_q:
                torch.matmul(grad_s, k[i:j], out=grad_q[i:j])
            if need_k:
                torch.matmul(grad_s.transpose(-2, -1), q[i:j],
                             out=grad_k[i:j])
            del grad_s
        if need_bias:
            grad_bias = grad_bias.to(ctx.bias_dtype)
        return grad_q, grad_k, grad_v, grad_bias


class _TableBiasedAttention(torch.autograd.Function):
    """:class:`_BiasedAttention` given the (h, T) position-bias table and
    the (N, N) index instead of the gathered (1, h, N, N) bias
    (``ZoeSwinV2FusedAttention.recompute_bias``).

    It keeps q, k, v, the output, the table and the index: the bias is
    gathered again (and the probabilities recomputed) in the backward pass,
    and the table's gradient is the index-add of the bias gradient (what
    autograd's ``index_select`` backward computes). With ``grid`` (the
    window, when the index is timm's formula) the bias is a strided copy of
    the table and its gradient the offset-diagonal sums
    (:mod:`~mmzoe.models.utils.toeplitz_bias`) instead. SwinV2-B at 384²: the
    one-window blocks of stage 3 no longer keep their (1, 16, 576, 576)
    probabilities (21 MB each, 382 MB in all), for one more q kᵀ, gather
    and softmax per block in the backward pass.
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                table: torch.Tensor, index: torch.Tensor,
                mask: Optional[torch.Tensor],
                grid: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        q, k, v = q.detach(), k.detach(), v.detach()
        ctx.grid = grid
        bias = _gather_table(table.detach(), index, q.shape[2], grid)
        ctx.bias_dtype = bias.dtype
        ctx.keep_probs = False
        out = torch.empty_like(q)
        for i, j, m in _window_chunks(q, k, mask):
            b = bias if mask is None else bias + mask[m:m + j - i]
            out[i:j] = F.scaled_dot_product_attention(
                q[i:j], k[i:j], v[i:j], attn_mask=b, scale=1.0)
        del bias
        ctx.save_for_backward(q, k, v, table, index, out, mask)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, table, index, out, mask = ctx.saved_tensors
        bias = _gather_table(table, index, q.shape[2], ctx.grid)
        grad_q, grad_k, grad_v, grad_bias = _BiasedAttention._grads(
            ctx, grad_out, q, k, v, bias, out, mask, None)
        del bias
        grad_table = None
        if grad_bias is not None and ctx.grid is not None:
            grad_table = toeplitz_table_grad(grad_bias, ctx.grid)
        elif grad_bias is not None:
            grad_table = torch.zeros_like(table).index_add_(
                1, index.view(-1), grad_bias.view(table.shape[0], -1))
        return grad_q, grad_k, grad_v, grad_table, None, None, None


def _gather_table(table: torch.Tensor, index: torch.Tensor, n: int,
                  grid: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """The (h, T) table gathered to the (1, h, N, N) bias: through
    ``index``, or as a strided copy when ``grid`` (the window whose timm
    index ``index`` is) is given."""
    if grid is not None:
        return toeplitz_gather(table, grid).unsqueeze(0)
    return table.index_select(1, index.view(-1)).view(1, table.shape[0], n, n)


def _recomputable_cpb(mlp: nn.Module) -> bool:
    """timm's continuous position-bias MLP: Linear(bias), ReLU, Linear
    (no bias)."""
    return (isinstance(mlp, nn.Sequential) and len(mlp) == 3
            and type(mlp[0]) is nn.Linear and mlp[0].bias is not None
            and type(mlp[1]) is nn.ReLU and type(mlp[2]) is nn.Linear
            and mlp[2].bias is None)


class _RecomputedCpbMlp(torch.autograd.Function):
    """``linear(relu(linear(coords, w1, b1)), w2)`` keeping only its
    inputs (a buffer and the weights): the hidden layer is recomputed in the
    backward pass, which takes the products autograd's ``addmm`` / ``mm``
    backward takes (same gradients)."""

    @staticmethod
    def forward(ctx, coords: torch.Tensor, w1: torch.Tensor,
                b1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(coords, w1, b1, w2)
        return F.linear(torch.relu(F.linear(coords, w1, b1)), w2)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        coords, w1, b1, w2 = ctx.saved_tensors
        x = coords.reshape(-1, coords.shape[-1])
        hidden = torch.relu(F.linear(x, w1, b1))
        grad = grad_out.reshape(-1, grad_out.shape[-1])
        grad_w2 = grad.t().mm(hidden)
        grad_h = torch.ops.aten.threshold_backward(grad.mm(w2), hidden, 0)
        del hidden
        grad_w1 = grad_h.t().mm(x)
        grad_b1 = grad_h.sum(0)
        grad_coords = (grad_h.mm(w1).view(coords.shape)
                       if ctx.needs_input_grad[0] else None)
        return grad_coords, grad_w1, grad_b1, grad_w2


def _use_custom_backward(q: torch.Tensor, bias_requires_grad: bool,
                         dropout_p: float) -> bool:
    """On CPU, a position bias that needs a gradient goes through
    :class:`_BiasedAttention` (CUDA's memory-efficient kernel differentiates
    the mask itself)."""
    return (q.device.type == 'cpu' and bias_requires_grad
            and torch.is_grad_enabled() and dropout_p == 0.0
            and not plain_ops_required())


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               bias: torch.Tensor, dropout_p: float) -> torch.Tensor:
    """Fused attention with the (full) additive bias (explicit matmuls
    while traced)."""
    if torch.jit.is_tracing():
        probs = _probs(q, k, bias, None, q.dtype)
        if dropout_p:
            probs = F.dropout(probs, p=dropout_p)
        return torch.matmul(probs, v)
    if _use_custom_backward(q, bias.requires_grad, dropout_p):
        return _BiasedAttention.apply(q, k, v, bias, None)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=1.0)


@MODELS.register_module()
class ZoeSwinV2FusedAttention(WindowAttention):
    """SwinV2 window attention through ``scaled_dot_product_attention``.

    Build it from an existing timm module with :meth:`from_timm` (what
    ``ZoeSwinV2(attn_impl='sdpa')`` does, ``'sdpa'`` being this registered
    type's alias); the constructor arguments are those of timm's
    ``WindowAttention``.

    Args:
        *args: timm ``WindowAttention`` positional arguments.
        cache_bias (bool | str): What to cache of the additive attention
            bias in eval mode when no gradient is required: ``'table'``
            (or True: the per-head table, gathered per call), ``'full'``
            (the whole bias: no gather per call, much more memory) or
            nothing (False); see the module docstring. Defaults to True.
        toeplitz_bias (bool): Build the position bias by strided copies of
            its table (and, in training, the table's gradient by offset
            sums) when the index is timm's formula, instead of
            ``index_select`` / ``index_add_``; same bias values, see the
            module docstring. Defaults to False.
        **kwargs: timm ``WindowAttention`` keyword arguments.
    """

    def __init__(self,
                 *args,
                 cache_bias: Union[bool, str] = True,
                 toeplitz_bias: bool = False,
                 **kwargs) -> None:
        bias_cache_mode(cache_bias)  # a bad value fails here, not later
        super().__init__(*args, **kwargs)
        self.cache_bias = cache_bias
        self.toeplitz_bias = bool(toeplitz_bias)
        # set by ZoeSwinV2(fused_eval=...): see _forward_eval
        self.fused_eval = False
        # set by ZoeSwinV2(attn_recompute_bias=...): training on CPU keeps
        # the position-bias table instead of the gathered bias or the
        # probabilities (_TableBiasedAttention)
        self.recompute_bias = False
        self._bias_cache: Optional[Tuple[tuple, torch.Tensor]] = None
        # (index tensor, its version, window, whether it is timm's formula)
        self._toeplitz_checked: Optional[tuple] = None
        # (shift-mask key, its mask_runs): see _attention_mask_runs
        self._mask_runs: Optional[tuple] = None

    @classmethod
    def from_timm(
            cls,
            attn: WindowAttention,
            cache_bias: Union[bool, str] = True,
            toeplitz_bias: bool = False) -> 'ZoeSwinV2FusedAttention':
        """Build from a timm ``WindowAttention``, taking over its tensors.

        Args:
            attn (WindowAttention): The module to replace.
            cache_bias (bool): See the class docstring. Defaults to True.
            toeplitz_bias (bool): See the class docstring. Defaults to
                False.

        Returns:
            ZoeSwinV2FusedAttention: A module holding the same parameter and
            buffer tensors (not copies: no extra memory while building) in
            the same train/eval mode.
        """
        if not isinstance(attn, WindowAttention):
            raise TypeError('ZoeSwinV2FusedAttention.from_timm expects a '
                            'timm swin_transformer_v2.WindowAttention, got '
                            f'{type(attn).__name__}.')
        ref = attn.proj.weight
        new = cls(
            attn.dim,
            window_size=tuple(attn.window_size),
            num_heads=attn.num_heads,
            qkv_bias=attn.q_bias is not None,
            qkv_bias_separate=attn.qkv_bias_separate,
            attn_drop=attn.attn_drop.p,
            proj_drop=attn.proj_drop.p,
            pretrained_window_size=tuple(attn.pretrained_window_size),
            device='meta',  # no second copy of the weights, no init
            dtype=ref.dtype,
            cache_bias=cache_bias,
            toeplitz_bias=toeplitz_bias)
        # Take over timm's parameter and buffer objects (same names).
        for name, param in attn.named_parameters(recurse=True):
            owner, _, leaf = name.rpartition('.')
            new.get_submodule(owner)._parameters[leaf] = param
        for name, buf in attn.named_buffers(recurse=True):
            owner, _, leaf = name.rpartition('.')
            new.get_submodule(owner)._buffers[leaf] = buf
        left = [n for n, t in list(new.named_parameters()) +
                list(new.named_buffers()) if t.is_meta]
        if left:
            raise RuntimeError('ZoeSwinV2FusedAttention.from_timm: no '
                               f'counterpart in timm\'s module for {left}.')
        new.train(attn.training)
        return new

    share_position_index = staticmethod(share_position_index)

    # ------------------------------------------------------------ the bias
    def train(self, mode: bool = True) -> 'ZoeSwinV2FusedAttention':
        """Set the mode; entering training mode drops the cached bias.

        ``eval()`` keeps it: :func:`~mmzoe.apis.inference_depth` calls
        ``eval()`` and ``train(False)`` around every prediction, and the
        cache key already notices changed weights.
        """
        if mode:
            self._bias_cache = None
        return super().train(mode)

    def _bias_sources(self, mask: Optional[torch.Tensor]) -> list:
        srcs = list(self.cpb_mlp.parameters())
        srcs += [self.relative_coords_table, self.relative_position_index]
        if mask is not None:
            srcs.append(mask)
        return srcs

    def _bias_needs_grad(self) -> bool:
        return torch.is_grad_enabled() and any(
            p.requires_grad for p in self.cpb_mlp.parameters())

    def _can_cache(self) -> bool:
        if (bias_cache_mode(self.cache_bias) == 'none' or self.training
                or plain_ops_required()):
            return False
        if torch.is_grad_enabled() and any(
                p.requires_grad for p in self.cpb_mlp.parameters()):
            return False
        return True

    def _bias_table(self) -> torch.Tensor:
        """``16·sigmoid(cpb_mlp(coords))`` as a contiguous (h, T) table.

        While a gradient is recorded, timm's ``cpb_mlp`` (Linear, ReLU,
        Linear without bias) runs through :class:`_RecomputedCpbMlp`: its
        input is a buffer, so autograd would keep only its 512-wide hidden
        layer, ((2W-1)², 512) floats per block (SwinV2-B at 384²: 4.5 MB
        per block, 102 MB in all); the backward pass recomputes that layer
        instead (one (T, 2) x (2, 512) product; same values, same
        gradients).
        """
        coords = self.relative_coords_table
        if (torch.is_grad_enabled() and not plain_ops_required()
                and not torch.is_autocast_enabled(coords.device.type)
                and _recomputable_cpb(self.cpb_mlp)
                and any(p.requires_grad for p in self.cpb_mlp.parameters())):
            lin1, _, lin2 = self.cpb_mlp
            table = _RecomputedCpbMlp.apply(coords, lin1.weight, lin1.bias,
                                            lin2.weight)
            return self._table_from_mlp(table)
        return self._bias_table_plain()

    def _bias_table_plain(self) -> torch.Tensor:
        return self._table_from_mlp(
            self.cpb_mlp(self.relative_coords_table))

    def _table_from_mlp(self, table: torch.Tensor) -> torch.Tensor:
        table = table.view(-1, self.num_heads)
        # sigmoid is element-wise: applying it to the (T, h) table before
        # the gather is exact; gathering along the last axis of the (h, T)
        # table gives the (h, N, N) layout directly (~6x faster than
        # timm's gather + permute + copy, bit-identical).
        return (16 * torch.sigmoid(table)).t().contiguous()

    def _toeplitz_grid(self, table: torch.Tensor) -> Optional[Tuple[int, int]]:
        """The window when the bias may be built without the index (see
        the module docstring), else None."""
        if not self.toeplitz_bias or plain_ops_required():
            return None
        grid = (int(self.window_size[0]), int(self.window_size[1]))
        if table.dim() != 2 or table.shape[1] != (2 * grid[0] - 1) * (
                2 * grid[1] - 1):
            return None
        index = self.relative_position_index
        try:
            version = index._version
        except RuntimeError:  # inference tensor: no version counter
            version = None
        checked = self._toeplitz_checked
        if (checked is None or checked[0] is not index or version is None
                or checked[1] != version or checked[2] != grid):
            checked = (index, version, grid, is_toeplitz_index(index, grid))
            self._toeplitz_checked = checked
        return grid if checked[3] else None

    def _gather_bias(self, table: torch.Tensor,
                     mask: Optional[torch.Tensor]) -> torch.Tensor:
        """The (h, T) table expanded to (1, h, N, N), plus the shift mask
        as (nW, h, N, N) when given."""
        n = self.window_size[0] * self.window_size[1]
        bias = _gather_table(table, self.relative_position_index, n,
                             self._toeplitz_grid(table))
        if mask is not None:
            bias = bias + mask.to(bias.dtype).unsqueeze(1)
        return bias

    def _compute_bias(self, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """``16·sigmoid(cpb)`` gathered to (1, h, N, N), plus the shift mask
        as (nW, h, N, N) when given."""
        return self._gather_bias(self._bias_table(), mask)

    def attention_bias(self,
                       mask: Optional[torch.Tensor] = None,
                       dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """The additive attention bias (cached when allowed).

        Args:
            mask (Tensor, optional): Shift mask (nW, N, N) or None.
            dtype (torch.dtype, optional): Dtype of the result (that of the
                attention inputs); the cache holds it in this dtype, so no
                conversion runs per call. Defaults to the MLP's dtype.

        Returns:
            Tensor: (1, h, N, N) without a mask, (nW, h, N, N) with one
            (always 4-D: torch's CPU flash kernel needs a 4-D mask and falls
            back to the slow math path otherwise).
        """
        if not self._can_cache():
            bias = self._compute_bias(mask)
            return bias if dtype is None else bias.to(dtype)
        full = bias_cache_mode(self.cache_bias) == 'full'
        try:
            key = tuple((id(t), t._version, t.data_ptr(), t.device, t.dtype)
                        for t in self._bias_sources(mask if full else None))
            key += (dtype, full)
        except RuntimeError:  # inference tensors have no version counter
            bias = self._compute_bias(mask)
            return bias if dtype is None else bias.to(dtype)
        if self._bias_cache is not None and self._bias_cache[0] == key:
            cached = self._bias_cache[1]
        else:
            with torch.no_grad():
                cached = self._bias_table()
                if dtype is not None:
                    cached = cached.to(dtype)
                if full:
                    cached = self._gather_bias(cached, mask)
            self._bias_cache = (key, cached)
        if full:
            return cached
        # 'table': the gather (and the shift mask) per call, in ``dtype``.
        with torch.no_grad():
            return self._gather_bias(cached, mask)

    # ------------------------------------------------------------- forward
    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Window attention.

        Args:
            x (Tensor): (num_windows * B, N, C) tokens.
            mask (Tensor, optional): (num_windows, N, N) shift mask.

        Returns:
            Tensor: (num_windows * B, N, C).
        """
        if (self.fused_eval and not self.training
                and not self.qkv_bias_separate
                and fused_eval_enabled(x, self.qkv.weight)):
            return self._forward_eval(x, mask)
        b_, n, c = x.shape
        if self.q_bias is None:
            qkv = self.qkv(x)
        else:
            qkv_bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
            if self.qkv_bias_separate:
                qkv = self.qkv(x) + qkv_bias
            else:
                qkv = F.linear(x, weight=self.qkv.weight, bias=qkv_bias)
        qkv = qkv.reshape(b_, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        scale = torch.clamp(self.logit_scale, max=_MAX_LOGIT_SCALE).exp()
        # F.normalize (x / max(|x|, 1e-12)) with the logit scale folded into
        # the (.., N, 1) divisor of q: one pass over q instead of two.
        q = q / (torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(
            _NORM_EPS) / scale)
        k = k / torch.linalg.vector_norm(
            k, dim=-1, keepdim=True).clamp_min(_NORM_EPS)
        # Under autocast the normalisation may run in float32: one dtype.
        q = q.to(v.dtype)
        k = k.to(v.dtype)
        dropout_p = self.attn_drop.p if self.training else 0.0
        if mask is not None and _use_custom_backward(
                q, self._bias_needs_grad(), dropout_p):
            # Training on CPU: position bias (1, h, N, N) and shift mask
            # (nW, 1, N, N) stay apart; see _BiasedAttention.
            if self.recompute_bias:
                table = self._bias_table().to(v.dtype)
                out = _TableBiasedAttention.apply(
                    q, k, v, table, self.relative_position_index,
                    mask.to(v.dtype).unsqueeze(1),
                    self._toeplitz_grid(table))
            else:
                bias = self._compute_bias(None).to(v.dtype)
                out = _BiasedAttention.apply(
                    q, k, v, bias, mask.to(v.dtype).unsqueeze(1))
        elif (self.recompute_bias and mask is None and _use_custom_backward(
                q, self._bias_needs_grad(), dropout_p)):
            table = self._bias_table().to(v.dtype)
            out = _TableBiasedAttention.apply(
                q, k, v, table, self.relative_position_index, None,
                self._toeplitz_grid(table))
        else:
            out = self._attention_full_bias(q, k, v, mask, dropout_p)
        out = out.transpose(1, 2).reshape(b_, n, c)
        out = self.proj(out)
        return self.proj_drop(out)

    def _forward_eval(self, x: torch.Tensor,
                      mask: Optional[torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` in eval mode without gradients (``fused_eval``,
        float32 CPU): the ``qkv`` and ``proj`` biases inside oneDNN's GEMM,
        and q and k normalised in one pass, multiplied by the reciprocal
        norms (the logit scale folded into q's) and written token-major
        (2, B, N, h, d), so that the fused kernel's output needs no copy
        before ``proj``. Equal to :meth:`forward` up to rounding."""
        b_, n, c = x.shape
        heads = self.num_heads
        if self.q_bias is None:
            qkv = linear_eval(x, self.qkv)
        else:
            qkv_bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
            qkv = torch.ops.mkldnn._linear_pointwise(
                x, self.qkv.weight, qkv_bias, 'none', [], '')
        qkv = qkv.view(b_, n, 3, heads, -1)
        qk = qkv[:, :, :2]
        inv = torch.linalg.vector_norm(qk, dim=-1, keepdim=True)
        inv = inv.clamp_min_(_NORM_EPS).reciprocal_()
        scale = torch.clamp(self.logit_scale, max=_MAX_LOGIT_SCALE).exp()
        inv[:, :, 0].mul_(scale.view(heads, 1))
        qk_n = torch.empty((2, b_, n, heads, qkv.shape[-1]),
                           dtype=qkv.dtype, device=qkv.device)
        torch.mul(qk.permute(2, 0, 1, 3, 4), inv.permute(2, 0, 1, 3, 4),
                  out=qk_n)
        # (B, h, N, d) views of token-major tensors: the fused kernel then
        # writes its output token-major too, and the head merge below is a
        # view instead of a copy
        q, k = qk_n[0].transpose(1, 2), qk_n[1].transpose(1, 2)
        v = qkv[:, :, 2].transpose(1, 2)
        runs = self._runs_of(mask)
        if runs is None:
            out = self._attention_full_bias(q, k, v, mask, 0.0)
        else:
            out = self._attention_mask_runs(q, k, v, mask, runs)
        out = out.transpose(1, 2).reshape(b_, n, c)
        return linear_eval(out, self.proj)

    def _runs_of(self, mask: Optional[torch.Tensor]
                 ) -> Optional[List[Tuple[int, int, Optional[int]]]]:
        """:func:`mask_runs` of the shift mask (kept while the mask tensor
        and its version stay), or None where the (nW, h, N, N) bias is used:
        no mask, the ``'full'`` cache (it holds that sum), or one run per
        window (nothing saved)."""
        if mask is None or bias_cache_mode(self.cache_bias) == 'full':
            return None
        try:
            key = (id(mask), mask._version, mask.data_ptr(),
                   tuple(mask.shape), mask.device)
        except RuntimeError:  # inference tensor: no version counter
            key = None
        cached = getattr(self, '_mask_runs', None)
        if key is not None and cached is not None and cached[0] == key:
            runs = cached[1]
        else:
            runs = mask_runs(mask)
            if key is not None:
                self._mask_runs = (key, runs)
        return runs if len(runs) < mask.shape[0] else None

    def _attention_mask_runs(self, q: torch.Tensor, k: torch.Tensor,
                             v: torch.Tensor, mask: torch.Tensor,
                             runs: List[Tuple[int, int, Optional[int]]]
                             ) -> torch.Tensor:
        """Shifted-window attention one run of equal masks at a time (see
        the module docstring): (B*nW, h, N, d), written token-major like
        the single call's output."""
        b_, heads, n, d = q.shape
        num_win = mask.shape[0]
        if b_ % num_win:
            raise ValueError(f'{b_} windows is not a multiple of the '
                             f'{num_win} windows of the shift mask.')
        bias = self.attention_bias(None, v.dtype)
        biases = {}
        for _, _, m in runs:
            if m is not None and m not in biases:
                biases[m] = bias + mask[m].to(bias.dtype)
        out = torch.empty((b_, n, heads, v.shape[-1]), dtype=v.dtype,
                          device=v.device).transpose(1, 2)
        for img in range(0, b_, num_win):
            for start, end, m in runs:
                i, j = img + start, img + end
                out[i:j].copy_(_attention(q[i:j], k[i:j], v[i:j],
                                          bias if m is None else biases[m],
                                          0.0))
        return out

    def _attention_full_bias(self, q: torch.Tensor, k: torch.Tensor,
                             v: torch.Tensor, mask: Optional[torch.Tensor],
                             dropout_p: float) -> torch.Tensor:
        """Attention with position bias and shift mask added up front (the
        cached bias in eval mode)."""
        b_ = q.shape[0]
        bias = self.attention_bias(mask, v.dtype)
        if bias.shape[0] > 1 and b_ != bias.shape[0]:
            # Shifted windows of several images: the (nW, h, N, N) bias
            # repeats per image; run one call per image instead of
            # materialising a (B * nW, h, N, N) copy.
            num_win = bias.shape[0]
            if b_ % num_win:
                raise ValueError(f'{b_} windows is not a multiple of the '
                                 f'{num_win} windows of the shift mask.')
            return torch.cat([
                _attention(q[i:i + num_win], k[i:i + num_win],
                           v[i:i + num_win], bias, dropout_p)
                for i in range(0, b_, num_win)
            ])
        return _attention(q, k, v, bias, dropout_p)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, window_size={tuple(self.window_size)}, '
                f'num_heads={self.num_heads}, sdpa=True, '
                f'cache_bias={self.cache_bias}, '
                f'toeplitz_bias={self.toeplitz_bias}')
