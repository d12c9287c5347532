"""Weight gradient of a 3x3 stride-1 convolution with the Winograd
transform F(4x4, 3x3), in plain torch operators.

Winograd's F(4x4, 3x3) writes a 3x3 convolution of a 6x6 input tile ``d``
(4x4 output tile) as ``Y = A^T [(G w G^T) * (B^T d B)] A`` (``*``
elementwise over the 36 transform points). Differentiating with respect
to ``w`` and summing over the tiles of all images gives the weight
gradient::

    dU[p, o, c] = sum_tiles M[p, o, tile] V[p, c, tile]   (p: 36 points)
    dW[o, c]    = G^T dU[:, o, c] G                       (6x6 -> 3x3)

with ``V = B^T d B`` (transformed input tiles, overlapping by 2 pixels)
and ``M = A g A^T`` (transformed 4x4 output-gradient tiles). The 36
products are one batched matrix product with the number of tiles as the
summed dimension: 2 * 36 * O * C multiply-adds per 16 output pixels
instead of 2 * 9 * 16 * O * C, 4x fewer.

The tile transforms are strided convolutions of every channel on its own
(the channels as the batch): ``B^T d B`` is a 6x6, stride-4 convolution
with 36 output channels (the Kronecker product ``B^T (x) B^T`` as
kernels), ``A g A^T`` a 4x4, stride-4 one. They cost 2 * 36 * 36 * C
(input) and 2 * 36 * 16 * O (gradient) multiply-adds per tile, small next
to the product's 2 * 36 * O * C when both channel counts are large; with
32 output channels they are not, and the transform convolutions then cost
as much as the direct weight gradient (measured, see
``docs/benchmarks.md``): :mod:`mmzoe.models.layers.zoe_conv` uses this
function where both channel counts are at least
:data:`WGRAD_MIN_CHANNELS` (the shapes measured faster: 128 or 256 input and
output channels; not :data:`~mmzoe.models.utils.winograd_conv.MIN_CHANNELS`,
NNPACK's width bound for the forward convolution).

The images are processed in bands of tile rows whose transformed tiles
(input and gradient) take at most :data:`BAND_BYTES` (8 MB: faster than 4
or 16 MB, one thread). Rounding: the largest difference to a float64
weight gradient is 4e-6..7e-6 of its largest entry in float32 at the DPT
decoder's shapes (oneDNN's direct kernel: 2e-6..5e-6).
"""
import functools
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .row_bands import padded_rows

# Transformed bytes (input + gradient tiles) per band of tile rows.
BAND_BYTES = 8 * 2**20

# Fewest input and output channels for which the Winograd weight gradient
# is used (see the module docstring).
WGRAD_MIN_CHANNELS = 128

_M = 4  # output tile size
_A = _M + 2  # input tile size

# F(4x4, 3x3) matrices (Lavin & Gray, "Fast Algorithms for Convolutional
# Neural Networks", 2016; interpolation points 0, +-1, +-2, infinity).
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0),
       (0, 1, -1, 8, -8, 1))


@functools.lru_cache(maxsize=None)
def _kernels(dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
    """The input-tile and gradient-tile transforms as convolution kernels
    (36, 1, 6, 6) and (36, 1, 4, 4), and the (9, 36) back-transform, built
    in float64 and cast to ``dtype``."""
    bt = torch.tensor(_BT, dtype=torch.float64)
    g = torch.tensor(_G, dtype=torch.float64)
    a = torch.tensor(_AT, dtype=torch.float64).t()
    # vec(B^T d B) = (B^T (x) B^T) vec(d), vec(A g A^T) = (A (x) A) vec(g)
    k_in = torch.kron(bt, bt).view(_A * _A, 1, _A, _A)
    k_grad = torch.kron(a, a).view(_A * _A, 1, _M, _M)
    # vec(G^T U G) = (G (x) G)^T vec(U)
    back = torch.kron(g, g).t().contiguous()
    return (k_in.to(dtype), k_grad.to(dtype), back.to(dtype))


def winograd_weight_grad(x: Tensor, grad_out: Tensor,
                         padding: Sequence[int]) -> Tensor:
    """Weight gradient of ``F.conv2d(x, w, stride=1, padding=padding)``
    for a 3x3 kernel ``w``, see the module docstring.

    Args:
        x (Tensor): The convolution's input (B, C, H, W), any memory
            format.
        grad_out (Tensor): Gradient of its output (B, O, H', W').
        padding (Sequence[int]): Zero padding (ph, pw), each 0 or 1.

    Returns:
        Tensor: (O, C, 3, 3) gradient of the weight, in ``x``'s dtype.
    """
    n, c, h, w = x.shape
    o = grad_out.shape[1]
    ph, pw = (int(p) for p in padding)
    h_out, w_out = grad_out.shape[2:]
    k_in, k_grad, back = _kernels(x.dtype)
    th, tw = -(-h_out // _M), -(-w_out // _M)  # tile rows and columns
    pitch = tw * _M + 2
    per_tile_row = (c + o) * _A * _A * tw * x.element_size()
    band = max(1, min(th, BAND_BYTES // per_tile_row))
    du = x.new_zeros((_A * _A, o, c))
    for i in range(n):
        for t0 in range(0, th, band):
            t1 = min(th, t0 + band)
            lo = t0 * _M - ph  # first input row of the band
            hi = lo + (t1 - t0) * _M + 2
            xb = padded_rows(x[i], lo, hi, pitch, pw).unsqueeze(1)
            v = F.conv2d(xb, k_in, stride=_M).view(c, _A * _A, -1)
            gb = padded_rows(grad_out[i], t0 * _M, t1 * _M,
                             tw * _M).unsqueeze(1)
            m = F.conv2d(gb, k_grad, stride=_M).view(o, _A * _A, -1)
            du.baddbmm_(m.transpose(0, 1), v.permute(1, 2, 0))
    dw = torch.mm(back, du.view(_A * _A, o * c))
    return dw.view(3, 3, o, c).permute(2, 3, 0, 1)
