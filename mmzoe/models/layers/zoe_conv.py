"""A 2-D convolution whose backward pass runs on faster kernels (CPU
training in channels-last memory format).

PyTorch's CPU convolution backward (oneDNN) is 2-3x slower in channels-last
memory format than in NCHW for the DPT decoder's 3x3 convolutions at 96²-384²
(measured with 2 threads: 256->128 channels at 192², forward + backward,
1.47 s channels-last vs 0.61 s NCHW), while the channels-last *forward* is
the faster one at those sizes. :class:`ZoeConv2d` keeps the forward
convolution (in whatever layout its input has) and computes the gradients of
a stride-1, dilation-1, ungrouped, zero-padded k x k convolution (k > 1)
itself:

* **input gradient**: the transposed convolution of a stride-1 convolution
  is itself a stride-1 forward convolution, of the output gradient with the
  weight flipped in both spatial axes and its two channel axes swapped, with
  padding ``k - 1 - p``: one call of the fast forward kernel, in the
  input's memory format.
* **weight gradient**: ``dW[:, :, ky, kx]`` is the product of the output
  gradient (O, pixels) with the input pixels seen through kernel tap
  (ky, kx) (pixels, C): ``kh * kw`` matrix products whose summed dimension
  is the number of pixels, where BLAS runs near its peak. Band by band of
  output rows (copies below :data:`_BAND_BYTES`), the input rows are copied
  into a zero-padded buffer and the gradient rows into one of the same row
  pitch whose last ``kw - 1`` columns are zero; each tap's input is then a
  contiguous slice of the flattened buffer (no im2col copy). Measured
  against oneDNN's backward-weights kernel on NCHW bands (what this module
  used before), CPU time of one thread, min of 3-4 alternating runs (A B A
  B) on the busy 2-core VM, 3x3, padding 1, in 4-6 such runs: 256 -> 256
  channels at 96x96 0.75-0.85x, 48x48 0.67-0.77x, 24x24 0.75-0.87x, 12x12
  0.68-0.85x; 256 -> 128 at 192x192 0.76-0.87x; 128 -> 256 at 96x96
  0.76-0.89x; 128 -> 32 at 384x384 0.83-1.11x (a draw: a 32-row product is
  narrow); largest difference to a float64 gradient 3e-7..1e-6 of its
  largest entry (oneDNN 2e-6..5e-6).
  Channels-last inputs are copied into the NCHW buffers (1.05-1.4x the time of
  NCHW inputs). Dtypes other than float32 and float64 keep oneDNN's kernel.
* **bias gradient**: the sum of the output gradient.

Gradients that are not needed (an input that needs no gradient, frozen
weights) are not computed. Every other case (1x1 kernels, whose
channels-last backward is already fast, strides, dilation, groups, other
padding modes, eval mode, no grad, autocast, and whatever
:func:`~mmzoe.models.utils.winograd_conv.plain_ops_required` names: jit
tracing or scripting, compiling, a ``TorchDispatchMode`` such as the FLOP
counter of ``get_flops``) runs
:class:`torch.nn.Conv2d` unchanged; so does every forward pass outside
training: the parameters, their names and the forward result are those of
``nn.Conv2d``. Only the rounding of the gradients differs (another summation
order).

Built with ``winograd=True`` (the DPT neck's ``winograd_conv``), the float32
CPU 3x3 convolutions for which
:func:`~mmzoe.models.utils.winograd_conv.winograd_applies` holds run through
NNPACK's Winograd kernel instead: the forward without gradients and, in
training, the forward and the input gradient above (both stride-1 3x3
convolutions with padding 1); the forward result then differs from
``nn.Conv2d`` by Winograd's rounding. With ``winograd=True`` the weight
gradient of a float32 3x3 convolution (padding 0 or 1) with at least
:data:`~mmzoe.models.utils.winograd_wgrad.WGRAD_MIN_CHANNELS` (128) input
and output channels on a map of at least
:data:`~mmzoe.models.utils.winograd_conv.MIN_PIXELS` (40x40) uses the
Winograd transform F(4x4, 3x3) of
:mod:`mmzoe.models.utils.winograd_wgrad` (4x fewer multiply-adds; same
conditions as NNPACK otherwise: not under autocast, tracing, compiling, a
``TorchDispatchMode`` or ``torch.backends.nnpack.flags(enabled=False)``).
Against oneDNN's kernel (same measurement as above, 2-3 runs): 256 -> 256
at 96x96 0.41-0.52x, 48x48 0.39-0.43x; 256 -> 128 at 192x192 0.47-0.56x;
128 -> 256 at 96x96 0.43-0.52x. With 32 output channels (128 -> 32 at
384x384: 0.84-1.11x) it was no faster than the direct products, and below
40x40 the direct products are as fast (24x24: 0.77-0.83x vs 0.75-0.87x;
12x12: 1.52x), hence the two bounds. Rounding: 4e-6..7e-6 of the largest
entry (float32 against float64).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS
from ..utils.fused_eval import is_channels_last
from ..utils.row_bands import padded_rows
from ..utils.winograd_conv import (MIN_PIXELS, plain_ops_required,
                                   winograd_applies, winograd_conv2d,
                                   winograd_enabled)
from ..utils.winograd_wgrad import (WGRAD_MIN_CHANNELS,
                                    winograd_weight_grad)


def _memory_format(x: Tensor) -> torch.memory_format:
    """channels_last if ``x`` is stored so (and is not also plain
    contiguous), else contiguous_format."""
    return (torch.channels_last
            if is_channels_last(x) else torch.contiguous_format)


# Bytes of the zero-padded copies (input rows + output-gradient rows) per
# band of output rows in the weight gradient: bounds the transient memory.
_BAND_BYTES = 16 * 2**20


def _weight_grad_onednn(x: Tensor, grad_out: Tensor, weight: Tensor,
                        pad: Tuple[int, int], need_w: bool, need_b: bool):
    """Weight and bias gradients of a stride-1 convolution with oneDNN's
    NCHW kernel, in bands of output rows (each band copies its input rows,
    with the ``kh - 1`` halo rows and zero rows at the image border, and its
    output-gradient rows to NCHW). Used for dtypes other than float32 and
    float64."""
    n, c, h, _ = x.shape
    o, _, kh, _ = weight.shape
    ph, pw = pad
    h_out = grad_out.shape[2]
    per_row = (c * x.shape[3] + o * grad_out.shape[3]) * n * \
        x.element_size()
    rows = max(1, min(h_out, _BAND_BYTES // max(per_row, 1)))
    w_nchw = weight.contiguous()
    grad_w = grad_b = None
    for y0 in range(0, h_out, rows):
        y1 = min(h_out, y0 + rows)
        lo, hi = y0 - ph, y1 - ph + kh - 1  # input rows of the band
        band = padded_rows(x, lo, hi)
        _, gw, gb = torch.ops.aten.convolution_backward(
            grad_out[:, :, y0:y1].contiguous(), band, w_nchw,
            [o] if need_b else None, [1, 1], [0, pw], [1, 1], False, [0, 0],
            1, [False, need_w, need_b])
        if need_w:
            grad_w = gw if grad_w is None else grad_w.add_(gw)
        if need_b:
            grad_b = gb if grad_b is None else grad_b.add_(gb)
    return grad_w, grad_b


def _weight_grad_gemm(x: Tensor, grad_out: Tensor, weight: Tensor,
                      pad: Tuple[int, int]) -> Tensor:
    """Weight gradient of a stride-1 convolution as ``kh * kw`` matrix
    products with the pixels as the summed dimension (see the module
    docstring), image by image and in bands of output rows.

    Each band copies its input rows (with the halo rows, zero rows at the
    image border) into a zero-padded (C, rows + kh - 1, W + 2 pw) buffer
    and its output-gradient rows into an (O, rows, W + 2 pw) buffer whose
    last ``kw - 1`` columns are zero. With both flattened at the same row
    pitch, the input pixels seen through kernel tap (ky, kx) are the
    contiguous slice starting at ``ky * pitch + kx``, and the products of
    the wrap-around pixels meet the zero columns of the gradient buffer:
    ``dW[:, :, ky, kx] += G_flat @ X_flat[:, off:off + L].T`` with no
    im2col copy.
    """
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ph, pw = pad
    h_out, w_out = grad_out.shape[2:]
    pitch = w + 2 * pw
    per_row = (c + o) * pitch * x.element_size()
    rows = max(1, min(h_out, _BAND_BYTES // max(per_row, 1)))
    acc = x.new_zeros((kh * kw, o, c))
    for i in range(n):
        for y0 in range(0, h_out, rows):
            y1 = min(h_out, y0 + rows)
            lo, hi = y0 - ph, y1 - ph + kh - 1  # input rows of the band
            x_band = padded_rows(x[i], lo, hi, pitch, pw)
            g_band = padded_rows(grad_out[i], y0, y1, pitch)
            length = (y1 - y0) * pitch - (kw - 1)
            g_flat = g_band.view(o, -1)[:, :length]
            x_flat = x_band.view(c, -1)
            for ky in range(kh):
                for kx in range(kw):
                    off = ky * pitch + kx
                    acc[ky * kw + kx].addmm_(
                        g_flat, x_flat[:, off:off + length].t())
    return acc.permute(1, 2, 0).reshape(o, c, kh, kw)


def _winograd_weight_grad_applies(x: Tensor, grad_out: Tensor,
                                  weight: Tensor,
                                  pad: Tuple[int, int]) -> bool:
    """Whether the weight gradient runs through
    :func:`~mmzoe.models.utils.winograd_wgrad.winograd_weight_grad` (for a
    ``winograd=True`` convolution; see the module docstring)."""
    return (winograd_enabled(x) and weight.dtype == torch.float32
            and tuple(weight.shape[2:]) == (3, 3)
            and all(0 <= p <= 1 for p in pad)
            and min(weight.shape[:2]) >= WGRAD_MIN_CHANNELS
            and grad_out.shape[2] * grad_out.shape[3] >= MIN_PIXELS)


def _weight_grad(x: Tensor, grad_out: Tensor, weight: Tensor,
                 pad: Tuple[int, int], need_w: bool, need_b: bool,
                 winograd: bool):
    """``(grad_weight, grad_bias)`` (None where not needed) of a stride-1
    convolution, see the module docstring."""
    if x.dtype not in (torch.float32, torch.float64):
        return _weight_grad_onednn(x, grad_out, weight, pad, need_w, need_b)
    grad_w = None
    if need_w and winograd and _winograd_weight_grad_applies(
            x, grad_out, weight, pad):
        grad_w = winograd_weight_grad(x, grad_out, pad)
    elif need_w:
        grad_w = _weight_grad_gemm(x, grad_out, weight, pad)
    grad_b = grad_out.sum((0, 2, 3)) if need_b else None
    return grad_w, grad_b


class _ConvFastGrad(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride=1, padding=pad)`` with the
    gradients of the module docstring."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],
                pad: Tuple[int, int], winograd: bool = False) -> Tensor:
        ctx.pad = pad
        ctx.has_bias = bias is not None
        ctx.winograd = winograd
        ctx.save_for_backward(x, weight)
        if winograd and winograd_applies(
                x, weight=weight, bias=bias, padding=pad):
            return winograd_conv2d(x, weight, bias, pad)
        return F.conv2d(x, weight, bias, 1, pad)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        fmt = _memory_format(x)
        o, c, kh, kw = weight.shape
        ph, pw = ctx.pad
        grad_x = grad_w = grad_b = None
        if need_x:
            w_t = weight.transpose(0, 1)
            if kh > 1 or kw > 1:
                w_t = w_t.flip(2, 3)
            pad_t = (kh - 1 - ph, kw - 1 - pw)
            if ctx.winograd and winograd_applies(
                    grad_out, weight=w_t, padding=pad_t):
                grad_x = winograd_conv2d(grad_out, w_t, None, pad_t)
            else:
                w_t = w_t.contiguous(memory_format=_memory_format(weight))
                grad_x = F.conv2d(
                    grad_out.contiguous(memory_format=fmt), w_t, None, 1,
                    pad_t)
        need_b = need_b and ctx.has_bias
        if need_w or need_b:
            grad_w, grad_b = _weight_grad(x, grad_out, weight, ctx.pad,
                                          need_w, need_b, ctx.winograd)
            if grad_w is not None:
                grad_w = grad_w.contiguous(
                    memory_format=_memory_format(weight))
        return grad_x, grad_w, grad_b, None, None


@MODELS.register_module()
class ZoeConv2d(nn.Conv2d):
    """:class:`torch.nn.Conv2d` with a faster CPU backward pass.

    Same constructor, parameters and forward result as ``nn.Conv2d``. While
    training on the CPU with gradients enabled, a stride-1, dilation-1,
    ungrouped, zero-padded convolution with a kernel larger than 1x1 (and
    ``padding < kernel_size``) computes its gradients as in the module
    docstring; everything else is ``nn.Conv2d.forward``.

    With ``winograd=True``, a convolution for which
    :func:`~mmzoe.models.utils.winograd_conv.winograd_applies` holds (float32
    CPU 3x3 stride-1 convolutions of maps of at least 40x40 pixels, see
    :mod:`mmzoe.models.utils.winograd_conv`) runs through NNPACK's Winograd
    kernel: the forward without gradients, and in training (with
    ``fast_grad``) the forward and the input gradient of the fast backward
    pass, and the weight gradient of a convolution with at least 128 input
    and output channels through the Winograd transform F(4x4, 3x3). Results
    differ from ``nn.Conv2d`` by Winograd's rounding (~1e-5 of the largest
    output).

    Args:
        *args: ``nn.Conv2d`` positional arguments.
        fast_grad (bool): Use the fast backward pass where it applies.
            Defaults to True.
        winograd (bool): Use NNPACK's Winograd convolution where it
            applies. Defaults to False.
        **kwargs: ``nn.Conv2d`` keyword arguments.
    """

    def __init__(self,
                 *args,
                 fast_grad: bool = True,
                 winograd: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fast_grad = bool(fast_grad)
        self.winograd = bool(winograd)

    @classmethod
    def from_conv(cls,
                  conv: nn.Conv2d,
                  fast_grad: bool = True,
                  winograd: bool = False) -> 'ZoeConv2d':
        """A ``ZoeConv2d`` that takes over the parameters of ``conv`` (the
        same tensors, not copies) and its train/eval mode.

        Args:
            conv (nn.Conv2d): The convolution to replace.
            fast_grad (bool): See the class docstring. Defaults to True.
            winograd (bool): See the class docstring. Defaults to False.

        Returns:
            ZoeConv2d: The new module.
        """
        if type(conv) is not nn.Conv2d and not isinstance(conv, ZoeConv2d):
            raise TypeError('ZoeConv2d.from_conv expects an nn.Conv2d, got '
                            f'{type(conv).__name__}.')
        new = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            device='meta',
            fast_grad=fast_grad,
            winograd=winograd)
        new.weight = conv.weight
        new.bias = conv.bias
        new.train(conv.training)
        return new

    def _fast_applies(self, x: Tensor) -> bool:
        k, p = self.kernel_size, self.padding
        return (self.fast_grad and self.training and torch.is_grad_enabled()
                and x.device.type == 'cpu' and x.dim() == 4
                and isinstance(p, tuple) and self.padding_mode == 'zeros'
                and self.groups == 1 and tuple(self.stride) == (1, 1)
                and tuple(self.dilation) == (1, 1) and k[0] * k[1] > 1
                and p[0] < k[0] and p[1] < k[1]
                and (x.requires_grad or self.weight.requires_grad or
                     (self.bias is not None and self.bias.requires_grad))
                and not torch.is_autocast_enabled(x.device.type)
                and not plain_ops_required())

    def forward(self, x: Tensor) -> Tensor:
        if self._fast_applies(x):
            return _ConvFastGrad.apply(x, self.weight, self.bias,
                                       tuple(self.padding), self.winograd)
        if self.winograd and winograd_applies(x, self):
            return winograd_conv2d(x, self.weight, self.bias, self.padding)
        return super().forward(x)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f', fast_grad={self.fast_grad}, '
                                       f'winograd={self.winograd}')


def convert_to_zoe_conv(module: nn.Module,
                        fast_grad: bool = True,
                        winograd: bool = False) -> nn.Module:
    """Replace every plain ``nn.Conv2d`` inside ``module`` by a
    :class:`ZoeConv2d` holding the same parameters (names unchanged, so
    ``state_dict`` keys stay the same).

    Args:
        module (nn.Module): Module to convert in place (a bare ``nn.Conv2d``
            is returned converted).
        fast_grad (bool): Passed to :class:`ZoeConv2d`. Defaults to True.
        winograd (bool): Passed to :class:`ZoeConv2d`. Defaults to False.

    Returns:
        nn.Module: ``module`` (or the new conv if ``module`` was one).
    """
    if type(module) is nn.Conv2d:
        return ZoeConv2d.from_conv(module, fast_grad, winograd)
    for name, child in list(module.named_children()):
        if type(child) is nn.Conv2d:
            setattr(module, name,
                    ZoeConv2d.from_conv(child, fast_grad, winograd))
        else:
            convert_to_zoe_conv(child, fast_grad, winograd)
    return module
