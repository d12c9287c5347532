"""padded_rows (the zero-padded row bands of the banded convolutions in
zoe_conv, winograd_wgrad and winograd_conv) against a direct F.pad of the
image."""
import pytest
import torch
import torch.nn.functional as F

from mmzoe.models.utils import padded_rows


def _reference(x, lo, hi, pitch, col_offset):
    """Pad the whole image with F.pad, then slice the band."""
    h, w = x.shape[-2:]
    top, bottom = max(-lo, 0), max(hi - h, 0)
    right = pitch - col_offset - w
    full = F.pad(x, (col_offset, right, top, bottom))
    return full[..., lo + top:hi + top, :]


@pytest.mark.parametrize('lo,hi', [(-1, 3), (2, 5), (4, 8), (-2, 9), (0, 7)])
@pytest.mark.parametrize('pitch,col_offset', [(None, 0), (9, 1), (10, 0),
                                              (12, 3)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_f_pad(lo, hi, pitch, col_offset, channels_last):
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for img in (x, x[1]):  # a batch and one image (C, H, W)
        band = padded_rows(img, lo, hi, pitch, col_offset)
        ref = _reference(img, lo, hi, 8 if pitch is None else pitch,
                         col_offset)
        assert band.shape == ref.shape
        assert band.is_contiguous()
        assert torch.equal(band, ref)


def test_inner_band_is_one_plain_copy():
    """No zeros needed: the band is the slice made contiguous (the image
    itself when it is already contiguous and the band covers it)."""
    x = torch.randn(1, 3, 6, 5)
    assert padded_rows(x, 0, 6).data_ptr() == x.data_ptr()
    band = padded_rows(x, 1, 4)
    assert torch.equal(band, x[:, :, 1:4]) and band.is_contiguous()
    band[:] = 0  # a copy: the image is unchanged
    assert x[:, :, 1:4].abs().sum() > 0
