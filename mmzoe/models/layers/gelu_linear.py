"""``linear(gelu(h))`` that keeps only ``h`` for the backward pass.

Autograd keeps two tensors of the hidden width for ``fc2(gelu(h))``: the
GELU keeps its input ``h`` (for its derivative) and the linear layer keeps
its input ``gelu(h)`` (for the weight gradient). :func:`gelu_linear` keeps
``h`` only and recomputes ``gelu(h)`` in the backward pass: one element-wise
pass over the hidden map (a few milliseconds per SwinV2-B block on a CPU)
for half the memory of the hidden activations. The forward runs the same
operators as ``F.linear(F.gelu(h), weight, bias)`` and the backward the same
products as autograd's, so values and gradients are equal to the plain
composition (bit for bit on CPU in the tests; rounding level at most).

SwinV2-B at 384x384, batch 1: the MLP hidden maps of the 24 blocks are
146 MB; the metric head's 80-channel hidden map at the output size 47 MB
(docs/memory.md, training memory).

:class:`ZoeGeluRecomputeMlp` is timm's ``Mlp`` with this backward pass in
training (same parameter names: checkpoints load unchanged).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Mlp
from timm.layers.activations import GELU as TimmGELU
from torch import Tensor


class _GeluLinear(torch.autograd.Function):
    """``F.linear(F.gelu(h), weight, bias)`` (exact GELU), ``h`` saved."""

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(h, weight)
        ctx.has_bias = bias is not None
        return F.linear(F.gelu(h), weight, bias)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        h, weight = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        grad_2d = grad_out.reshape(-1, grad_out.shape[-1])
        grad_h = grad_w = grad_b = None
        if need_w:
            act = F.gelu(h)
            # the product autograd's addmm backward takes for weight.t()
            grad_w = grad_2d.t().mm(act.reshape(-1, act.shape[-1]))
            del act
        if need_b and ctx.has_bias:
            grad_b = grad_2d.sum(0)
        if need_h:
            grad_act = grad_2d.mm(weight).view(h.shape)
            grad_h = torch.ops.aten.gelu_backward(grad_act, h)
        return grad_h, grad_w, grad_b


def gelu_linear_applies(h: Tensor, weight: Tensor) -> bool:
    """Whether :func:`gelu_linear` takes its memory-saving path: a gradient
    is being recorded for a float input, no autocast, not traced or
    compiled (FLOP counters and exporters see the plain operators)."""
    if not (torch.is_grad_enabled() and (h.requires_grad
                                         or weight.requires_grad)):
        return False
    if not h.is_floating_point() or h.dtype != weight.dtype:
        return False
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    compiler = getattr(torch, 'compiler', None)
    if compiler is not None and compiler.is_compiling():
        return False
    return not torch.is_autocast_enabled(h.device.type)


def gelu_linear(h: Tensor, weight: Tensor,
                bias: Optional[Tensor] = None) -> Tensor:
    """``F.linear(F.gelu(h), weight, bias)`` keeping only ``h`` for the
    backward pass when :func:`gelu_linear_applies`, else the plain
    composition.

    Args:
        h (Tensor): Pre-activation (..., in_features), last dim contiguous
            or not (any strides that ``F.linear`` takes).
        weight (Tensor): (out_features, in_features).
        bias (Tensor, optional): (out_features, ). Defaults to None.

    Returns:
        Tensor: (..., out_features).
    """
    if gelu_linear_applies(h, weight):
        return _GeluLinear.apply(h, weight, bias)
    return F.linear(F.gelu(h), weight, bias)


def _exact_gelu(act: nn.Module) -> bool:
    """torch's exact GELU or timm's (``timm.layers.GELU``, what timm's
    SwinV2 builds: ``F.gelu`` without approximation)."""
    if isinstance(act, nn.GELU):
        return act.approximate == 'none'
    return type(act) is TimmGELU


class ZoeGeluRecomputeMlp(Mlp):
    """timm ``Mlp`` whose training backward recomputes the GELU
    (:func:`gelu_linear`) instead of keeping its output.

    Applies when the MLP is ``fc2(gelu(fc1(x)))``: linear layers, exact GELU,
    no hidden norm, no hidden dropout while training; otherwise (and in eval
    mode) it is timm's forward. Build it from a timm module with
    :meth:`from_timm`.
    """

    @classmethod
    def from_timm(cls, mlp: Mlp) -> 'ZoeGeluRecomputeMlp':
        """The same module object with this class (parameters, buffers and
        hooks kept as they are; no copy).

        Args:
            mlp (Mlp): timm's module.

        Returns:
            ZoeGeluRecomputeMlp: ``mlp`` itself, now of this class.
        """
        if type(mlp) is not Mlp:
            raise TypeError('ZoeGeluRecomputeMlp.from_timm expects a timm '
                            f'Mlp, got {type(mlp).__name__}.')
        mlp.__class__ = cls
        return mlp

    def _recompute_applies(self, h: Tensor) -> bool:
        return (isinstance(self.fc1, nn.Linear)
                and isinstance(self.fc2, nn.Linear) and _exact_gelu(self.act)
                and isinstance(self.norm, nn.Identity)
                and (self.drop1.p == 0 or not self.training)
                and gelu_linear_applies(h, self.fc2.weight))

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc1(x)
        if self._recompute_applies(h):
            return self.drop2(_GeluLinear.apply(h, self.fc2.weight,
                                                self.fc2.bias))
        h = self.drop1(self.act(h))
        return self.drop2(self.fc2(self.norm(h)))
