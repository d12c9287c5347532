"""Zero-padded bands of image rows (the copies of the banded convolutions).

The banded convolution kernels of this package (the direct and the
Winograd weight gradients of :mod:`mmzoe.models.layers.zoe_conv` and
:mod:`~mmzoe.models.utils.winograd_wgrad`, the NNPACK forward of
:mod:`~mmzoe.models.utils.winograd_conv`) each process a band of rows
``lo .. hi`` of an image, where the band reaches ``kh - 1`` halo rows into
its neighbours and, at the image border, past the image: those rows are
the convolution's zero padding. :func:`padded_rows` makes that band as one
contiguous copy, optionally placed inside wider zero rows (a row pitch with
the zero columns of the horizontal padding, or the zero columns that the
flattened weight-gradient products rely on).
"""
from typing import Optional

from torch import Tensor


def padded_rows(x: Tensor,
                lo: int,
                hi: int,
                pitch: Optional[int] = None,
                col_offset: int = 0) -> Tensor:
    """Rows ``lo .. hi`` of ``x`` as a contiguous tensor, with zero rows
    where the band lies outside the image (``lo < 0`` or ``hi > H``) and
    the image's columns at ``col_offset .. col_offset + W`` of rows
    ``pitch`` wide (zeros elsewhere).

    Where the band needs no zeros (inside the image, ``pitch == W``,
    ``col_offset == 0``) this is ``x[..., lo:hi, :].contiguous()``: a copy,
    or ``x`` itself when that is already contiguous; callers must not
    modify the result in place. Otherwise it is a fresh tensor, filled in
    one copy.

    Args:
        x (Tensor): An image or batch of images (..., H, W), any strides.
        lo (int): First row of the band (negative: zero rows above the
            image).
        hi (int): End of the band, exclusive (``> H``: zero rows below the
            image); ``hi > lo``.
        pitch (int, optional): Width of the result's rows, at least
            ``col_offset + W``. Defaults to W.
        col_offset (int): Column of the result where the image's first
            column goes. Defaults to 0.

    Returns:
        Tensor: (..., hi - lo, pitch), contiguous, in ``x``'s dtype and
        device.
    """
    h, w = x.shape[-2:]
    pitch = w if pitch is None else pitch
    top, bottom = max(lo, 0), min(hi, h)
    if lo >= 0 and hi <= h and pitch == w and col_offset == 0:
        return x[..., lo:hi, :].contiguous()
    band = x.new_zeros(x.shape[:-2] + (hi - lo, pitch))
    band[..., top - lo:bottom - lo, col_offset:col_offset + w] = \
        x[..., top:bottom, :]
    return band
