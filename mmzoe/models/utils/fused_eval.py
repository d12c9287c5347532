"""oneDNN fused operators for the eval-mode CPU forward (``fused_eval``).

oneDNN (the library behind torch's CPU convolutions) can apply an
element-wise operation to a convolution's or matrix product's output while
it is still in cache: a ReLU or GELU (``unary`` post-op) or the addition of
a tensor of the output's shape (``binary`` post-op, e.g. a residual). torch
exposes these as ``torch.ops.mkldnn._convolution_pointwise`` and
``torch.ops.mkldnn._linear_pointwise``, the operators inductor emits for
fused CPU graphs. The convolution with a post-op gives exactly the values of
the unfused ``conv`` + ``relu`` / ``+ other`` where torch runs the plain
convolution through oneDNN as well (the same kernel, the post-op applied to
the same float32 accumulator; torch does so for the DPT decoder's maps),
rounding-level differences for small maps that torch convolves otherwise;
the linear layer runs
another GEMM than ``addmm`` (bias added in the kernel instead of a copied
output), so it differs by rounding only.

These operators have no autograd formula, so they are used only when
:func:`fused_eval_enabled` holds: no gradient is recorded, float32 on CPU
outside ``torch.autocast``,
oneDNN available and enabled, and no ``torch.jit`` trace or
``torch.compile`` in progress (FLOP counters, ONNX export and inductor see
the plain operators). Weights are passed as ordinary dense tensors: oneDNN
reorders them per call (measured on this project's shapes, prepacked weights
gave no gain over dense ones), so there is no packed copy to keep in sync
with the parameters.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .winograd_conv import (plain_ops_required, winograd_applies,
                            winograd_conv2d)


def fused_eval_enabled(x: Tensor, *params: Optional[Tensor]) -> bool:
    """Whether the fused oneDNN operators may run on ``x`` and ``params``.

    Args:
        x (Tensor): The input.
        *params (Tensor | None): Weights and biases involved (None skipped).

    Returns:
        bool: True on CPU, float32, without gradient recording, autocast,
        tracing or compiling, with oneDNN enabled, and outside any
        ``TorchDispatchMode`` (e.g. ``FlopCounterMode``: counters and fake
        tensors see the plain operators, whose formulas they know).
    """
    if (x.device.type != 'cpu' or x.dtype != torch.float32
            or torch.is_grad_enabled() or plain_ops_required()):
        return False
    if not (torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled):
        return False
    if torch.is_autocast_enabled('cpu'):
        return False  # autocast picks the precision of each operator
    return all(p is None or (p.dtype == torch.float32 and not p.is_meta)
               for p in params)


def is_channels_last(t: Tensor) -> bool:
    """Whether ``t`` is a 4-D tensor stored channels-last (and not also
    plain contiguous, as size-1 dimensions can make it)."""
    return (t.dim() == 4 and not t.is_contiguous()
            and t.is_contiguous(memory_format=torch.channels_last))


def _conv_args(conv: nn.Conv2d) -> Optional[tuple]:
    if conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
        return None
    return (list(conv.padding), list(conv.stride), list(conv.dilation),
            conv.groups)


def conv2d_eval(x: Tensor,
                conv: nn.Conv2d,
                relu: bool = False,
                add: Optional[Tensor] = None) -> Tensor:
    """``conv(x)`` (``+ add``) (then ReLU) as one fused oneDNN call when
    :func:`fused_eval_enabled`, else with the plain operators.

    Args:
        x (Tensor): (B, C, H, W) input, any memory format.
        conv (nn.Conv2d): The convolution (zero padding).
        relu (bool): Apply a ReLU to the result. Defaults to False.
        add (Tensor, optional): Added to the convolution's output (same
            shape), before the ReLU. Defaults to None.

    Returns:
        Tensor: The result (the unfused expression's values up to
        rounding, see the module docstring).

    A convolution with a true ``winograd`` attribute (a
    :class:`~mmzoe.models.layers.ZoeConv2d` built with ``winograd=True``)
    runs through NNPACK where
    :func:`~mmzoe.models.utils.winograd_conv.winograd_applies` holds; the
    addition and the ReLU are then applied in place to its fresh output.
    """
    if getattr(conv, 'winograd', False) and winograd_applies(x, conv):
        out = winograd_conv2d(x, conv.weight, conv.bias, conv.padding)
        if add is not None:
            out.add_(add)
        return out.relu_() if relu else out
    args = _conv_args(conv)
    if args is None or not fused_eval_enabled(x, conv.weight, conv.bias,
                                              add):
        out = conv(x)
        if add is not None:
            out = out + add
        return F.relu(out) if relu else out
    unary = 'relu' if relu else 'none'
    if add is None:
        return torch.ops.mkldnn._convolution_pointwise(
            x, conv.weight, conv.bias, *args, unary, [], '')
    # oneDNN writes channels-last when the input or the weight is
    # channels-last (as torch's convolution does); ``other`` must match
    fmt = (torch.channels_last if is_channels_last(x)
           or is_channels_last(conv.weight) else torch.contiguous_format)
    return torch.ops.mkldnn._convolution_pointwise(
        x, add.contiguous(memory_format=fmt), conv.weight, conv.bias,
        *args, 'add', 1.0, unary if relu else None, [], '')


def linear_eval(x: Tensor, linear: nn.Linear, gelu: bool = False) -> Tensor:
    """``linear(x)`` (then exact GELU) with the bias (and the GELU) applied
    inside oneDNN's GEMM when :func:`fused_eval_enabled`.

    ``F.linear`` with a bias runs ``addmm``, which first copies the
    broadcast bias into the output and then accumulates the product into it
    (an extra pass over the output; for SwinV2-B's 9216 x 128 token maps
    about 40 % of the layer's time). Equal to the plain expression up to
    rounding.

    Args:
        x (Tensor): (..., in_features).
        linear (nn.Linear): The layer.
        gelu (bool): Apply the exact (erf) GELU. Defaults to False.

    Returns:
        Tensor: (..., out_features).
    """
    if not fused_eval_enabled(x, linear.weight, linear.bias):
        out = linear(x)
        return F.gelu(out) if gelu else out
    return torch.ops.mkldnn._linear_pointwise(
        x, linear.weight, linear.bias, 'gelu' if gelu else 'none', [],
        'none' if gelu else '')
