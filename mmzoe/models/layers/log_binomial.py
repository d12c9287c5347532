"""Log-binomial distribution over depth bins (ZoeDepth output head).

Formulas follow the spec, section 4; every epsilon is deliberate. The
buffers ``k_idx`` (int64, (1, K, 1, 1)) and ``K_minus_1`` (float, (1, 1, 1, 1))
are persistent so checkpoints carry them, as upstream's do.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS


def _pointwise(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """A 1x1 convolution as one matrix product per image.

    Args:
        x (Tensor): (B, C, H, W), any memory format.
        weight (Tensor): (O, C).
        bias (Tensor, optional): (O, ).

    Returns:
        Tensor: (B, O, H, W), contiguous.
    """
    b, c, h, w = x.shape
    y = torch.matmul(weight, x.reshape(b, c, h * w))
    if bias is not None:
        y = y + bias.view(1, -1, 1)
    return y.view(b, -1, h, w)


def log_binomial_coefficient(n: Tensor, k: Tensor,
                             eps: float = 1e-7) -> Tensor:
    r"""Stirling-style :math:`\ln\binom{n}{k}` without the ½ ln(2πn) terms.

    With :math:`n' = n + \epsilon`, :math:`k' = k + \epsilon`:
    :math:`n' \ln n' - k' \ln k' - (n' - k') \ln(n' - k' + \epsilon)`.

    Args:
        n (Tensor): Number of trials (broadcastable with ``k``).
        k (Tensor): Number of successes.
        eps (float): Stabiliser. Defaults to 1e-7.

    Returns:
        Tensor: The approximate log binomial coefficient.
    """
    n = n + eps
    k = k + eps
    return n * torch.log(n) - k * torch.log(k) - (n - k) * torch.log(n - k +
                                                                    eps)


@MODELS.register_module(name='ZoeLogBinomial')
class LogBinomial(nn.Module):
    r"""Softmax of a tempered log-binomial over ``n_classes`` ordered bins.

    For a mode position ``p`` in (0, 1) and temperature ``t`` per pixel:
    :math:`y_k = \ln\binom{K-1}{k} + k \ln q + (K-1-k) \ln \bar q` with
    ``q = clamp(p, eps, 1)`` and ``q̄ = clamp(1 - p, eps, 1)`` (both from the
    unclamped ``p``), then ``softmax(y / t)`` over the bin axis.

    Args:
        n_classes (int): Number of bins K. Defaults to 256.
    """

    def __init__(self, n_classes: int = 256) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f'n_classes must be >= 2, got {n_classes}')
        self.K = n_classes
        self.register_buffer(
            'k_idx', torch.arange(n_classes, dtype=torch.int64).view(
                1, n_classes, 1, 1))
        self.register_buffer(
            'K_minus_1',
            torch.tensor([float(n_classes - 1)]).view(1, 1, 1, 1))

    def forward(self,
                p: Tensor,
                t: Union[Tensor, float] = 1.0,
                eps: float = 1e-4) -> Tensor:
        """Compute bin probabilities.

        Args:
            p (Tensor): Mode position, (B, H, W) or (B, 1, H, W).
            t (Tensor | float): Temperature, broadcastable to (B, 1, H, W).
                Defaults to 1.
            eps (float): Clamp floor for ``p`` and ``1 - p``. Defaults to 1e-4.

        Returns:
            Tensor: Probabilities (B, K, H, W), summing to 1 over dim 1.
        """
        if p.ndim == 3:
            p = p.unsqueeze(1)
        q_bar = torch.clamp(1 - p, eps, 1)
        q = torch.clamp(p, eps, 1)
        k = self.k_idx
        y = (log_binomial_coefficient(self.K_minus_1, k) + k * torch.log(q) +
             (self.K - 1 - k) * torch.log(q_bar))
        return torch.softmax(y / t, dim=1)

    def extra_repr(self) -> str:
        return f'n_classes={self.K}'


@MODELS.register_module(name='ZoeConditionalLogBinomial')
class ConditionalLogBinomial(nn.Module):
    """Per-pixel log-binomial over the bins from features and a condition.

    ``mlp`` = Conv1x1(in + cond, (in + cond) // bottleneck_factor), GELU,
    Conv1x1(., 4), Softplus. Channels 0/1 give the mode position
    ``p = (s0 + e) / ((s0 + e) + (s1 + e))``, channels 2/3 the temperature
    ``t = (max_temp - min_temp) * (s2 + e) / ((s2 + e) + (s3 + e)) + min_temp``
    with ``e = p_eps``.

    The condition may come at a lower resolution than the main input; it is
    bilinearly upsampled (``align_corners=True``) to the input size. With
    ``project_condition=True`` it is instead first projected by its block of
    the first 1x1 convolution and the projection is upsampled: upsampling and
    a 1x1 convolution are both linear and the bilinear weights sum to one, so
    this equals upstream's ``conv(cat(x, upsample(cond)))`` up to rounding,
    with the 128-channel condition convolved at its own (4x smaller) size,
    and the 1x1 convolutions run as matrix products (torch's CPU convolution
    backward is several times slower for these shapes). Off by default: the
    default is upstream's order of operations, bit for bit.

    Args:
        in_channels (int): Channels of the main input (out_conv + rel depth).
        condition_dim (int): Channels of the condition (bin embedding).
        n_classes (int): Number of bins. Defaults to 256.
        bottleneck_factor (int): Hidden width divisor. Defaults to 2.
        p_eps (float): Pair-normalisation epsilon. Defaults to 1e-4.
        max_temp (float): Maximum temperature. Defaults to 50.
        min_temp (float): Minimum temperature. Defaults to 1e-7.
        project_condition (bool): Project a smaller condition before
            upsampling it (see above). Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 condition_dim: int,
                 n_classes: int = 256,
                 bottleneck_factor: int = 2,
                 p_eps: float = 1e-4,
                 max_temp: float = 50.0,
                 min_temp: float = 1e-7,
                 project_condition: bool = False) -> None:
        super().__init__()
        self.project_condition = bool(project_condition)
        if not 0 < min_temp < max_temp:
            raise ValueError('Expected 0 < min_temp < max_temp, got '
                             f'min_temp={min_temp}, max_temp={max_temp}')
        self.p_eps = float(p_eps)
        self.max_temp = float(max_temp)
        self.min_temp = float(min_temp)
        self.log_binomial_transform = LogBinomial(n_classes)
        hidden = (in_channels + condition_dim) // bottleneck_factor
        self.mlp = nn.Sequential(
            nn.Conv2d(in_channels + condition_dim, hidden, 1, 1, 0),
            nn.GELU(),
            nn.Conv2d(hidden, 4, 1, 1, 0),
            nn.Softplus(),
        )

    def mode_and_temperature(self, x: Tensor,
                             cond: Tensor) -> Tuple[Tensor, Tensor]:
        """The per-pixel mode position and temperature.

        Args:
            x (Tensor): Main input (B, in_channels, H, W).
            cond (Tensor): Condition (B, condition_dim, h, w), at the size of
                ``x`` or smaller (then upsampled bilinearly, see above).

        Returns:
            tuple[Tensor, Tensor]: ``p`` (B, H, W) and ``t`` (B, 1, H, W).
        """
        s = self._mlp(x, cond)
        mode = s[:, :2, ...] + self.p_eps
        p = mode[:, 0, ...] / (mode[:, 0, ...] + mode[:, 1, ...])
        temp = s[:, 2:, ...] + self.p_eps
        t = temp[:, 0, ...] / (temp[:, 0, ...] + temp[:, 1, ...])
        t = (self.max_temp - self.min_temp) * t.unsqueeze(1) + self.min_temp
        return p, t

    def _mlp(self, x: Tensor, cond: Tensor) -> Tensor:
        """``mlp(cat(x, upsample(cond)))``, see the class docstring."""
        if not self.project_condition:
            if cond.shape[-2:] != x.shape[-2:]:
                cond = F.interpolate(
                    cond, size=x.shape[-2:], mode='bilinear',
                    align_corners=True)
            return self.mlp(torch.cat((x, cond), dim=1))
        conv1, act, conv2, out_act = self.mlp
        c_in = x.shape[1]
        weight = conv1.weight.flatten(1)
        hidden = _pointwise(x, weight[:, :c_in], None)
        proj = _pointwise(cond, weight[:, c_in:], conv1.bias)
        if proj.shape[-2:] != hidden.shape[-2:]:
            proj = F.interpolate(
                proj, size=hidden.shape[-2:], mode='bilinear',
                align_corners=True)
        hidden = act(hidden + proj)
        return out_act(_pointwise(hidden, conv2.weight.flatten(1),
                                  conv2.bias))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """Compute bin probabilities.

        Args:
            x (Tensor): Main input (B, in_channels, H, W).
            cond (Tensor): Condition (B, condition_dim, h, w), at most the
                size of ``x``.

        Returns:
            Tensor: Probabilities (B, n_classes, H, W).
        """
        return self.log_binomial_transform(
            *self.mode_and_temperature(x, cond))
