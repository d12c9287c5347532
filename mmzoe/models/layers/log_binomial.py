"""Log-binomial distribution over depth bins (ZoeDepth output head).

Formulas follow upstream ZoeDepth (docs/upstream_facts.md, metric head);
every epsilon is deliberate. The
buffers ``k_idx`` (int64, (1, K, 1, 1)) and ``K_minus_1`` (float, (1, 1, 1, 1))
are persistent so checkpoints carry them, as upstream's do.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmzoe.registry import MODELS
from ..utils.fused_eval import fused_eval_enabled, is_channels_last
from ..utils.resize import upsample_to
from .gelu_linear import gelu_linear, gelu_linear_applies

# Fused expectation: bin probabilities are built in strips of image rows of
# about this many bytes (on CPU, so that each strip stays in cache).
_STRIP_BYTES = 2**20


def _pointwise(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """A 1x1 convolution as one matrix product per image.

    Args:
        x (Tensor): (B, C, H, W), any memory format.
        weight (Tensor): (O, C).
        bias (Tensor, optional): (O, ).

    Returns:
        Tensor: (B, O, H, W), channels-last if ``x`` is (one product over
        the (B*H*W, C) pixel matrix, no layout copy), else contiguous.
    """
    b, c, h, w = x.shape
    if c > 1 and is_channels_last(x):
        y = torch.matmul(x.permute(0, 2, 3, 1).reshape(b * h * w, c),
                         weight.t())
        if bias is not None:
            y = y + bias
        return y.view(b, h, w, -1).permute(0, 3, 1, 2)
    # (B, O, C) @ (B, C, HW): contiguous (B, O, HW) out; ``matmul`` of the
    # 2-D weight would fold the batch into a transposed product and hand
    # back a channels-last-strided map (mixed layouts downstream)
    y = torch.bmm(weight.expand(b, -1, -1), x.reshape(b, c, h * w))
    if bias is not None:
        y = y + bias.view(1, -1, 1)
    return y.view(b, -1, h, w)


def _pointwise_acc(x: Tensor, weight: Tensor, acc: Tensor) -> Tensor:
    """``acc + _pointwise(x, weight, None)`` for contiguous (NCHW) ``x``
    and ``acc``: one batched product that accumulates into (a copy of)
    ``acc``, contiguous (B, O, H, W) out.

    Args:
        x (Tensor): (B, C, H, W), contiguous.
        weight (Tensor): (O, C).
        acc (Tensor): (B, O, H, W), contiguous.

    Returns:
        Tensor: (B, O, H, W), contiguous.
    """
    b, c, h, w = x.shape
    return torch.baddbmm(acc.view(b, -1, h * w), weight.expand(b, -1, -1),
                         x.reshape(b, c, h * w)).view(b, -1, h, w)


# Pixels per column strip of the NCHW GELU + 1x1 convolution (an 80-channel
# strip of this width is ~1 MB float32: it stays in cache between the GELU
# and the product).
_GELU_STRIP_PIXELS = 4096


class _GeluPointwise(torch.autograd.Function):
    """``conv1x1(gelu(pre))`` on a contiguous (B, C, H, W) ``pre``, exact
    GELU, in column strips of pixels; only ``pre`` is kept for the backward
    pass, which recomputes the GELU strip by strip (the channels-first twin
    of :func:`~mmzoe.models.layers.gelu_linear`: no (pixels, channels)
    copies, the GELU output never held in full). Gradients: with
    ``a = gelu(pre)``, ``dW = g a^T``, ``db = sum g``, ``dpre =
    gelu'(pre) (W^T g)``.
    """

    @staticmethod
    def forward(ctx, pre: Tensor, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        b, c, h, w = pre.shape
        pre2 = pre.view(b, c, h * w)
        out = pre.new_empty(b, weight.shape[0], h * w)
        step = _GELU_STRIP_PIXELS
        for i in range(b):
            for j in range(0, h * w, step):
                act = torch.nn.functional.gelu(pre2[i, :, j:j + step])
                if bias is None:
                    torch.mm(weight, act, out=out[i, :, j:j + step])
                else:
                    torch.addmm(bias.view(-1, 1), weight, act,
                                out=out[i, :, j:j + step])
        ctx.save_for_backward(pre, weight)
        ctx.has_bias = bias is not None
        return out.view(b, -1, h, w)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        pre, weight = ctx.saved_tensors
        need_pre, need_w, need_b = ctx.needs_input_grad[:3]
        b, c, h, w = pre.shape
        pre2 = pre.view(b, c, h * w)
        g2 = grad_out.contiguous().view(b, -1, h * w)
        grad_pre = torch.empty_like(pre2) if need_pre else None
        grad_w = torch.zeros_like(weight) if need_w else None
        wt = weight.t().contiguous()
        step = _GELU_STRIP_PIXELS
        for i in range(b):
            for j in range(0, h * w, step):
                p_s = pre2[i, :, j:j + step]
                g_s = g2[i, :, j:j + step]
                if need_w:
                    grad_w.addmm_(g_s, torch.nn.functional.gelu(p_s).t())
                if need_pre:
                    torch.ops.aten.gelu_backward.grad_input(
                        wt.mm(g_s), p_s, grad_input=grad_pre[i, :,
                                                             j:j + step])
        grad_b = g2.sum((0, 2)) if need_b and ctx.has_bias else None
        if grad_pre is not None:
            grad_pre = grad_pre.view(b, c, h, w)
        return grad_pre, grad_w, grad_b


def _accumulator(x: Tensor, proj: Tensor,
                 act: nn.Module) -> Optional[Tensor]:
    """The (pixels, hidden) matrix view of ``proj`` that the hidden layer
    may accumulate into in place: both maps channels-last where the fused
    eval operators may run (:func:`fused_eval_enabled`: float32 on CPU, no
    gradient recorded, no autocast, not traced or compiled), exact GELU;
    else None."""
    if (not isinstance(act, nn.GELU) or act.approximate != 'none'
            or not fused_eval_enabled(x, proj)):
        return None
    if not (is_channels_last(x) and is_channels_last(proj)):
        return None
    b, c, h, w = proj.shape
    acc = proj.permute(0, 2, 3, 1).reshape(b * h * w, c)
    return acc if acc.data_ptr() == proj.data_ptr() else None


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


def log_binomial_logits(p: Tensor, log_coef: Tensor, k: Tensor,
                        k_rev: Tensor,
                        eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The untempered log-binomial logits, the one place of the formula.

    :math:`y_k = c_k + k \ln q + k'_k \ln \bar q` with
    ``q = clamp(p, eps, 1)``, ``q̄ = clamp(1 - p, eps, 1)`` (both from the
    unclamped ``p``), ``c = log_coef`` and ``k' = k_rev = K - 1 - k``.

    Args:
        p (Tensor): Mode position (B, 1, H, W).
        log_coef (Tensor): :func:`log_binomial_coefficient` of ``K - 1`` and
            ``k``, (1, K, 1, 1).
        k (Tensor): Bin indices (1, K, 1, 1).
        k_rev (Tensor): ``K - 1 - k``.
        eps (float): Clamp floor of ``q`` and ``q̄``.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``y`` (B, K, H, W), ``q`` and ``q̄``.
    """
    q_bar = torch.clamp(1 - p, eps, 1)
    q = torch.clamp(p, eps, 1)
    return (log_coef + k * torch.log(q)) + k_rev * torch.log(q_bar), q, q_bar


def _strip_rows(x: Tensor) -> int:
    """Rows of ``x`` (B, K, H, W) per strip: ~``_STRIP_BYTES`` on CPU, all
    of them on other devices (one kernel per operation)."""
    if x.device.type != 'cpu':
        return x.shape[2]
    row_bytes = x.shape[0] * x.shape[1] * x.shape[3] * x.element_size()
    return max(1, _STRIP_BYTES // max(row_bytes, 1))


class _LogBinomialExpectation(torch.autograd.Function):
    """``sum_k softmax(y / t)_k * values_k`` with the log-binomial logits
    ``y = (c_k + k ln q) + (K-1-k) ln q̄`` (see :class:`LogBinomial`).

    The forward pass computes the probabilities strip by strip and keeps
    none of them (only ``p``, ``t``, ``values`` and the result); the
    backward pass recomputes each strip and applies the softmax-expectation
    gradient: with ``P = softmax(z)``, ``z = y / t``, ``D = sum_k P_k v_k``:
    ``dD/dv_k = P_k``, ``dD/dz_k = P_k (v_k - D)``, ``dD/dt = -sum_k
    dD/dz_k z_k / t``, ``dD/dy_k = dD/dz_k / t``; ``q = clamp(p, eps, 1)``
    and ``q̄ = clamp(1 - p, eps, 1)`` pass gradients strictly inside their
    bounds, as ``torch.clamp``'s backward does.
    """

    @staticmethod
    def forward(ctx, p: Tensor, t: Tensor, values: Tensor, log_coef: Tensor,
                k: Tensor, k_rev: Tensor, eps: float) -> Tensor:
        rows = _strip_rows(values)
        out = p.new_empty(p.shape)
        for r in range(0, p.shape[2], rows):
            probs = _LogBinomialExpectation._strip(
                p, t, log_coef, k, k_rev, eps, r, rows)[0]
            out[:, :, r:r + rows] = torch.sum(
                probs * values[:, :, r:r + rows], dim=1, keepdim=True)
        ctx.eps = eps
        ctx.save_for_backward(p, t, values, log_coef, k, k_rev, out)
        return out

    @staticmethod
    def _strip(p: Tensor, t: Tensor, log_coef: Tensor, k: Tensor,
               k_rev: Tensor, eps: float, r: int,
               rows: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Probabilities, tempered logits ``z``, ``q`` and ``q̄`` of rows
        ``r:r + rows`` (:func:`log_binomial_logits`, as
        :meth:`LogBinomial.forward`)."""
        y, q, q_bar = log_binomial_logits(p[:, :, r:r + rows], log_coef, k,
                                          k_rev, eps)
        z = y.div_(t[:, :, r:r + rows])
        return torch.softmax(z, dim=1), z, q, q_bar

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        p, t, values, log_coef, k, k_rev, out = ctx.saved_tensors
        eps = ctx.eps
        need_p, need_t, need_v = ctx.needs_input_grad[:3]
        grad_p = torch.empty_like(p) if need_p else None
        grad_t = torch.empty_like(t) if need_t else None
        grad_v = torch.empty_like(values) if need_v else None
        rows = _strip_rows(values)
        for r in range(0, p.shape[2], rows):
            s = slice(r, r + rows)
            probs, z, q, q_bar = _LogBinomialExpectation._strip(
                p, t, log_coef, k, k_rev, eps, r, rows)
            g = grad_out[:, :, s]
            if need_v:
                torch.mul(probs, g, out=grad_v[:, :, s])
            if not (need_p or need_t):
                continue
            # dD/dz_k = P_k (v_k - D), times the incoming gradient
            grad_z = (values[:, :, s] - out[:, :, s]).mul_(g).mul_(probs)
            del probs
            t_s = t[:, :, s]
            if need_t:
                grad_t[:, :, s] = -(grad_z * z).sum(1, keepdim=True) / t_s
            if need_p:
                grad_y = grad_z.div_(t_s)
                p_s = p[:, :, s]
                g_q = (grad_y * k).sum(1, keepdim=True) / q
                g_q_bar = (grad_y * k_rev).sum(1, keepdim=True) / q_bar
                g_q = g_q * ((p_s > eps) & (p_s < 1))
                one_minus = 1 - p_s
                g_q_bar = g_q_bar * ((one_minus > eps) & (one_minus < 1))
                grad_p[:, :, s] = g_q - g_q_bar
        return grad_p, grad_t, grad_v, None, None, None, None


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
        k = self.k_idx
        y = log_binomial_logits(p, log_binomial_coefficient(self.K_minus_1, k),
                                k, self.K - 1 - k, eps)[0]
        return torch.softmax(y / t, dim=1)

    def expectation(self,
                    p: Tensor,
                    t: Union[Tensor, float],
                    values: Tensor,
                    eps: float = 1e-4) -> Tensor:
        """``sum(forward(p, t, eps) * values, dim=1, keepdim=True)`` without
        keeping the (B, K, H, W) probabilities for the backward pass.

        The probabilities are computed in strips of rows (in float32, also
        under autocast) and recomputed in the backward pass; the result
        equals the unfused expression up to rounding (see
        :class:`_LogBinomialExpectation`). While ``torch.jit`` traces the
        model (FLOP counters, TorchScript export) the unfused expression is
        used, so the trace holds ordinary operators instead of an opaque
        custom autograd node.

        Args:
            p (Tensor): Mode position, (B, H, W) or (B, 1, H, W).
            t (Tensor | float): Temperature, broadcastable to (B, 1, H, W).
            values (Tensor): Per-bin values (B, K, H, W), e.g. bin centres.
            eps (float): Clamp floor for ``p`` and ``1 - p``.
                Defaults to 1e-4.

        Returns:
            Tensor: (B, 1, H, W) float32.
        """
        if p.ndim == 3:
            p = p.unsqueeze(1)
        b, _, h, w = p.shape
        if values.shape != (b, self.K, h, w):
            raise ValueError(f'values must have shape {(b, self.K, h, w)}, '
                             f'got {tuple(values.shape)}')
        with torch.autocast(device_type=p.device.type, enabled=False):
            p = p.float().contiguous()
            t = torch.as_tensor(t, dtype=torch.float32,
                                device=p.device).expand(b, 1, h, w)
            values = values.float().contiguous()
            if torch.jit.is_tracing():
                return torch.sum(
                    self.forward(p, t, eps) * values, dim=1, keepdim=True)
            k = self.k_idx.to(torch.float32)
            log_coef = log_binomial_coefficient(self.K_minus_1.float(),
                                                self.k_idx)
            return _LogBinomialExpectation.apply(
                p, t.contiguous(), values, log_coef, k, (self.K - 1) - k,
                float(eps))

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
    default is upstream's order of operations, bit for bit. Given
    channels-last maps without gradient recording (the DPT neck's
    ``fused_eval`` outputs), the main input's product is accumulated into
    the upsampled projection inside the GEMM and the GELU runs in place
    (rounding only). While a gradient is recorded on channels-last maps,
    the hidden layer keeps only its GELU input for the backward pass
    (:func:`~mmzoe.models.layers.gelu_linear`; at 384x384 47 MB less).
    On contiguous (NCHW) maps, what the shipped model trains on (the DPT
    neck hands the head contiguous copies), the main input's product
    accumulates into the upsampled projection in one batched product and
    the GELU + second 1x1 convolution run in cached strips of pixels that
    also keep only the GELU input (``_GeluPointwise``): no layout copies
    (SwinV2-B at 384x384, 1 thread: the block's forward + backward 14 %
    less CPU time).

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
                cond = upsample_to(cond, x.shape[-2:])
            return self.mlp(torch.cat((x, cond), dim=1))
        conv1, act, conv2, out_act = self.mlp
        c_in = x.shape[1]
        weight = conv1.weight.flatten(1)
        proj = _pointwise(cond, weight[:, c_in:], conv1.bias)
        if proj.shape[-2:] != x.shape[-2:]:
            proj = upsample_to(proj, x.shape[-2:])
        acc = _accumulator(x, proj, act)
        if acc is not None:
            # channels-last maps (the fused-eval DPT neck), no gradient:
            # the main input's product accumulates into the upsampled
            # projection in the GEMM, the GELU runs in place
            b, _, h, w = x.shape
            acc.addmm_(x.permute(0, 2, 3, 1).reshape(b * h * w, c_in),
                       weight[:, :c_in].t())
            hidden = torch.ops.aten.gelu_(proj)
        else:
            w2 = conv2.weight.flatten(1)
            if (x.is_contiguous() and proj.is_contiguous()
                    and isinstance(act, nn.GELU)
                    and act.approximate == 'none'
                    and gelu_linear_applies(proj, w2)):
                # training on contiguous maps (the shipped model): one
                # accumulating product, GELU + conv2 in cached strips
                pre = _pointwise_acc(x, weight[:, :c_in], proj)
                return out_act(_GeluPointwise.apply(pre, w2, conv2.bias))
            pre = _pointwise(x, weight[:, :c_in], None) + proj
            if (isinstance(act, nn.GELU) and act.approximate == 'none'
                    and gelu_linear_applies(pre, w2)):
                # training: keep the pre-activation only, the GELU is
                # recomputed in the backward pass (gelu_linear)
                s = self._gelu_conv2(pre, w2, conv2.bias)
                if s is not None:
                    return out_act(s)
            hidden = act(pre)
        return out_act(_pointwise(hidden, conv2.weight.flatten(1),
                                  conv2.bias))

    @staticmethod
    def _gelu_conv2(pre: Tensor, weight: Tensor,
                    bias: Optional[Tensor]) -> Optional[Tensor]:
        """``conv2(gelu(pre))`` through :func:`gelu_linear` on the
        (pixels, hidden) matrix view of a channels-last ``pre``; a
        channels-last (B, O, H, W) map, or None for other layouts (a
        contiguous NCHW ``pre`` would need (pixels, hidden) copies of the
        hidden map in both passes: measured, the peak went up, not down)."""
        if not is_channels_last(pre):
            return None
        b, c, h, w = pre.shape
        rows = pre.permute(0, 2, 3, 1).reshape(b * h * w, c)
        return gelu_linear(rows, weight, bias).view(
            b, h, w, -1).permute(0, 3, 1, 2)

    def forward(self,
                x: Tensor,
                cond: Tensor,
                values: Optional[Tensor] = None) -> Tensor:
        """Compute bin probabilities, or their expectation of ``values``.

        Args:
            x (Tensor): Main input (B, in_channels, H, W).
            cond (Tensor): Condition (B, condition_dim, h, w), at most the
                size of ``x``.
            values (Tensor, optional): Per-bin values (B, n_classes, H, W),
                e.g. bin centres. Given, the result is
                ``sum(probs * values, dim=1, keepdim=True)`` computed by
                :meth:`LogBinomial.expectation` (probabilities not kept for
                the backward pass). Defaults to None.

        Returns:
            Tensor: Probabilities (B, n_classes, H, W), or the expectation
            (B, 1, H, W) when ``values`` is given.
        """
        p, t = self.mode_and_temperature(x, cond)
        if values is not None:
            return self.log_binomial_transform.expectation(p, t, values)
        return self.log_binomial_transform(p, t)
