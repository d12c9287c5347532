"""3x3 convolutions through NNPACK's Winograd kernels (``winograd_conv``).

torch's CPU builds ship NNPACK, a library whose 3x3 convolution uses the
Winograd transform: it convolves 6x6 output tiles with 8x8 transformed input
tiles, which needs about a third of the multiply-adds of the direct
convolution. torch's own ``conv2d`` picks NNPACK only for batches of 16 or
more and after oneDNN, so a batch-1 inference never reaches it; the operator
is reachable directly as ``torch._nnpack_spatial_convolution``.

Facts this module relies on (measured on this project's 2-core AVX2 VM,
torch 2.14.1):

* The operator fails ("NNPACK SpatialConvolution_updateOutput failed")
  until NNPACK is initialised, which ``torch._nnpack_available()`` does:
  :func:`winograd_available` calls it once before any use.
* It takes NCHW float32 tensors and symmetric zero padding (padding 0 and
  1 checked here). For batch 1 it runs the Winograd inference kernel; for
  a larger batch it switches to another algorithm that was *slower* than
  oneDNN (256 -> 256 channels at 96x96, batch 3: 613 ms vs 510 ms of CPU
  time, one thread) while three batch-1 calls took 182 ms. So
  :func:`winograd_conv2d` convolves image by image.
* It pays off from maps of about 40x40 pixels (256 -> 256 channels, CPU
  time of one thread: 18 ms vs oneDNN's 27-29 ms at 40x40; 15 vs 14-16 ms,
  a draw, at 32x32; slower at 24x24), and most on the DPT decoder's large
  maps (256 -> 128 channels at 192x192: 90 ms vs 271-319 ms).
  :data:`MIN_PIXELS` is that threshold.
* It pays off only for wide enough convolutions. Per 6x6 output tile the
  Winograd product saves multiply-adds in proportion to
  ``C_in * C_out``, while the tile transforms cost in proportion to
  ``C_in + C_out``; so what counts is the harmonic mean of the two widths,
  ``2 * C_in * C_out / (C_in + C_out)``. CPU time of one thread (min of
  7-15 alternating runs, loaded VM), NNPACK image by image over oneDNN's
  NCHW / channels-last convolution: harmonic
  mean 32 (32 -> 32 channels) 0.91-1.04x / 1.14-1.17x at 96x96-384x384,
  batch 1, and 1.05-1.21x / 1.34-1.66x at 48x48-64x80, batch 8; 16-21
  (the demo's relative head: 32 -> 16, 16 -> 8 and their input gradients
  at 64x80 and 128x160, batch 8) up to 1.8x / 2.5x; 40 (40 -> 40) 0.68-0.72x
  / 0.82-1.01x at 96x96-192x192; 51 (128 -> 32, the DPT relative head's
  last 3x3 convolution) 0.65-0.81x / 0.77-0.92x at 96x96-384x384; 256
  channels 0.45x at 48x48, batch 8. :data:`MIN_CHANNELS` is that threshold
  (:func:`winograd_width_pays`). Narrower convolutions stay on oneDNN,
  which runs them fastest in channels-last memory format: a DPT neck
  whose fusion blocks and relative head have no convolution that wide
  keeps ``channels_last`` (:func:`winograd_may_apply`).
* Winograd rounds differently from the direct convolution: the largest
  difference to a float64 convolution is ~1e-5 of the largest output entry
  (oneDNN: ~3e-6). Through the whole ZoeDepth model the metric depth moves
  by ~1e-6 relative.
* It runs on a thread pool that torch creates at the first NNPACK call,
  with ``torch.get_num_threads()`` threads at that moment, and keeps for
  the life of the process: one 256 -> 256 convolution at 96x96 with 2
  threads took 29-32 ms of wall time (CPU time / wall 1.95-1.99) after a
  first call with 2 threads, 56-59 ms (CPU / wall 0.97-0.98) after a first
  call with 1 thread. :func:`winograd_enabled` therefore records the
  thread count of this module's first NNPACK call and leaves later calls
  with another ``torch.set_num_threads`` to oneDNN, which follows it.
* Its workspace grows with the map and is kept by torch for the life of
  the thread (never freed): measured as the resident-memory increase of one
  call, 161 MB for 128 -> 32 channels at 384x384, 74 MB for 256 -> 128 at
  192x192, 35 MB for 256 -> 256 at 96x96; 54 MB and 44 MB for bands of 126
  and 108 rows of the first two. :func:`winograd_conv2d` therefore
  convolves large maps in bands of output rows (a multiple of the 6-row
  Winograd tile) holding at most :data:`BAND_PIXEL_CHANNELS` pixels x
  (input + output) channels, with the one-row halo of the neighbouring band
  as input. That costs one copy of the input and of the output of such a
  convolution and, per band, NNPACK's kernel transform: with 3.6 M (8 and 4
  bands for those two maps) ``inference_depth`` took 1.17x the unbanded
  time, with 8 M (4 and 2 bands) 1.03x (in-process A/B, 4 rounds); 8 M
  keeps the inference peak resident memory below upstream's.

:func:`winograd_applies` holds only where the result is the plain
convolution's up to that rounding and nothing else has to see the operator:
float32 on the CPU, a 3x3, stride-1, dilation-1, ungrouped, zero-padded
(padding 0 or 1) convolution of a map of at least :data:`MIN_PIXELS`
between channel widths whose harmonic mean is at least
:data:`MIN_CHANNELS`, no
gradient to record (the training path calls it inside its own autograd
function), and no ``torch.autocast``, ``torch.jit`` trace or script,
``torch.compile`` or ``TorchDispatchMode`` (FLOP counters, fake tensors)
in progress. ``torch.backends.nnpack.flags(enabled=False)`` turns it off.
"""
import functools
from typing import Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

# plain_ops_required: defined in .dispatch, importable from here as before
from .dispatch import plain_ops_required
from .row_bands import padded_rows

# Smallest map (H * W) convolved through NNPACK: 40x40 (see the module
# docstring).
MIN_PIXELS = 40 * 40

# Smallest harmonic mean 2 * C_in * C_out / (C_in + C_out) of the channel
# widths convolved through NNPACK (see the module docstring).
MIN_CHANNELS = 40

# Band size bound: output-band pixels x (input + output channels) per
# NNPACK call (at most ~55 MB of NNPACK workspace, see the module docstring).
BAND_PIXEL_CHANNELS = 8_000_000

# Winograd output tile height (F(6x6, 3x3)): band heights are multiples.
_TILE = 6

# torch.get_num_threads() at this module's first NNPACK call: the size of
# NNPACK's thread pool for the rest of the process (module docstring).
_pool_threads: Optional[int] = None


def _pool_matches_threads() -> bool:
    """Whether NNPACK's thread pool (if already created by this module)
    has ``torch.get_num_threads()`` threads."""
    return _pool_threads is None or _pool_threads == torch.get_num_threads()


@functools.lru_cache(maxsize=None)
def winograd_available() -> bool:
    """Whether torch was built with NNPACK, initialising it (cached).

    ``torch._nnpack_available()`` initialises NNPACK; without that call the
    convolution operator fails.

    Returns:
        bool: True if ``torch._nnpack_spatial_convolution`` can run.
    """
    probe = getattr(torch, '_nnpack_available', None)
    if probe is None:
        return False
    try:
        return bool(probe())
    except RuntimeError:
        return False


def _user_enabled() -> bool:
    """``torch.backends.nnpack``'s global flag (True where torch has
    none)."""
    getter = getattr(torch._C, '_get_nnpack_enabled', None)
    return True if getter is None else bool(getter())


def winograd_enabled(x: Tensor) -> bool:
    """Whether NNPACK may run on ``x`` at all (the conditions that do not
    depend on the convolution: what the DPT neck asks before picking the
    NCHW layout).

    Args:
        x (Tensor): An input tensor.

    Returns:
        bool: True for a float32 CPU tensor outside autocast, tracing,
        scripting, compiling and any ``TorchDispatchMode``, with NNPACK
        available and enabled, and the thread count of the first NNPACK
        call (NNPACK's thread pool) still set.
    """
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and not torch.is_autocast_enabled('cpu')
            and not plain_ops_required()
            and winograd_available() and _user_enabled()
            and _pool_matches_threads())


def _conv_params(conv: nn.Module) -> Optional[tuple]:
    """``(weight, bias, stride, padding, dilation, groups)`` of a zero-padded
    ``nn.Conv2d`` (None for other modules or padding modes)."""
    if not isinstance(conv, nn.Conv2d) or conv.padding_mode != 'zeros' or \
            isinstance(conv.padding, str):
        return None
    return (conv.weight, conv.bias, tuple(conv.stride), tuple(conv.padding),
            tuple(conv.dilation), conv.groups)


def winograd_width_pays(in_channels: int, out_channels: int) -> bool:
    """Whether a 3x3 convolution between these channel widths is wide
    enough for NNPACK: their harmonic mean is at least
    :data:`MIN_CHANNELS` (see the module docstring).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.

    Returns:
        bool: True if ``2 * C_in * C_out >= MIN_CHANNELS * (C_in + C_out)``.
    """
    return (in_channels > 0 and out_channels > 0 and 2 * in_channels *
            out_channels >= MIN_CHANNELS * (in_channels + out_channels))


def _shape_fits(weight: Tensor, stride: Sequence[int],
                padding: Sequence[int], dilation: Sequence[int],
                groups: int) -> bool:
    """The input-independent part of :func:`winograd_applies`: a 3x3,
    stride-1, dilation-1, ungrouped convolution with padding 0 or 1 between
    widths that :func:`winograd_width_pays`."""
    return (weight.dim() == 4 and tuple(weight.shape[2:]) == (3, 3)
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and len(padding) == 2
            and all(0 <= p <= 1 for p in padding)
            and winograd_width_pays(weight.shape[1], weight.shape[0]))


def winograd_may_apply(conv: nn.Module) -> bool:
    """Whether :func:`winograd_applies` can hold for ``conv`` on some input:
    a module with a true ``winograd`` attribute (a
    :class:`~mmzoe.models.layers.ZoeConv2d` built with ``winograd=True``)
    that is a zero-padded 3x3 stride-1 convolution of the widths NNPACK
    pays for. What a DPT neck asks of its convolutions before it picks
    NNPACK's NCHW layout over ``channels_last``.

    Args:
        conv (nn.Module): Any module.

    Returns:
        bool: True if NNPACK may run it (maps and dtypes permitting).
    """
    params = _conv_params(conv) if getattr(conv, 'winograd', False) else None
    return params is not None and _shape_fits(params[0], *params[2:])


def winograd_applies(x: Tensor,
                     conv: Optional[nn.Module] = None,
                     *,
                     weight: Optional[Tensor] = None,
                     bias: Optional[Tensor] = None,
                     stride: Sequence[int] = (1, 1),
                     padding: Sequence[int] = (1, 1),
                     dilation: Sequence[int] = (1, 1),
                     groups: int = 1) -> bool:
    """Whether ``conv(x)`` (or the convolution given by the keyword
    arguments) runs through :func:`winograd_conv2d`.

    Args:
        x (Tensor): The input (B, C, H, W).
        conv (nn.Conv2d, optional): The convolution; if None, ``weight`` and
            the other keywords describe it.
        weight (Tensor, optional): (O, C, 3, 3) weight (without ``conv``).
        bias (Tensor, optional): (O, ) bias or None (without ``conv``).
        stride, padding, dilation (Sequence[int]): Without ``conv``.
            Default to (1, 1).
        groups (int): Without ``conv``. Defaults to 1.

    Returns:
        bool: See the module docstring.
    """
    if not winograd_enabled(x):  # first: no shape checks while tracing
        return False
    if conv is not None:
        params = _conv_params(conv)
        if params is None:
            return False
        weight, bias, stride, padding, dilation, groups = params
    if weight is None or x.dim() != 4:
        return False
    if (not _shape_fits(weight, stride, padding, dilation, groups)
            or x.shape[1] != weight.shape[1] or x.shape[0] == 0
            or x.shape[2] * x.shape[3] < MIN_PIXELS):
        return False
    if weight.dtype != torch.float32 or weight.device.type != 'cpu' or (
            bias is not None and (bias.dtype != torch.float32
                                  or bias.device.type != 'cpu')):
        return False
    if torch.is_grad_enabled() and (
            x.requires_grad or weight.requires_grad or
            (bias is not None and bias.requires_grad)):
        return False  # no autograd formula recorded here
    return True


def _band_rows(h: int, w: int, channels: int) -> int:
    """Output rows per NNPACK call for an (h, w) map with ``channels``
    input + output channels: all of them if within
    :data:`BAND_PIXEL_CHANNELS`, else the largest multiple of the tile
    height that is."""
    if h * w * channels <= BAND_PIXEL_CHANNELS:
        return h
    rows = BAND_PIXEL_CHANNELS // max(w * channels, 1)
    return max(_TILE, rows // _TILE * _TILE)


def _conv_image(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                pad: list) -> Tensor:
    """One image (1, C, H, W) through NNPACK, in bands of output rows when
    the map is large (see the module docstring)."""
    _, _, h, w = x.shape
    ph, pw = pad
    h_out = h + 2 * ph - 2
    rows = _band_rows(h_out, w + 2 * pw - 2, x.shape[1] + weight.shape[0])
    if rows >= h_out:
        return torch._nnpack_spatial_convolution(x, weight, bias, pad,
                                                 [1, 1])
    out = x.new_empty((1, weight.shape[0], h_out, w + 2 * pw - 2))
    for y0 in range(0, h_out, rows):
        y1 = min(h_out, y0 + rows)
        lo, hi = y0 - ph, y1 - ph + 2  # input rows of the band (with halo)
        band = padded_rows(x, lo, hi)
        out[:, :, y0:y1] = torch._nnpack_spatial_convolution(
            band, weight, bias, [0, pw], [1, 1])
    return out


def winograd_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                    padding: Sequence[int]) -> Tensor:
    """A stride-1 3x3 convolution through NNPACK, one image at a time
    (NNPACK's batched algorithm is slower) and, for large maps, in bands of
    output rows (bounded workspace; see the module docstring).

    Callers check :func:`winograd_applies` first. Non-contiguous inputs are
    copied to NCHW (keep tensors NCHW to avoid that copy).

    Args:
        x (Tensor): (B, C, H, W) float32.
        weight (Tensor): (O, C, 3, 3) float32.
        bias (Tensor, optional): (O, ).
        padding (Sequence[int]): Zero padding (ph, pw), each 0 or 1.

    Returns:
        Tensor: (B, O, H', W'), NCHW contiguous, a fresh tensor (callers
        may modify it in place).
    """
    global _pool_threads
    if _pool_threads is None:
        _pool_threads = torch.get_num_threads()
    x = x.contiguous()
    weight = weight.contiguous()
    pad = [int(p) for p in padding]
    if x.shape[0] == 1:
        return _conv_image(x, weight, bias, pad)
    return torch.cat([
        _conv_image(x[i:i + 1], weight, bias, pad)
        for i in range(x.shape[0])
    ])
