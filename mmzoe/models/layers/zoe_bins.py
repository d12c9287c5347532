"""ZoeDepth metric-bins blocks: seed regressors, projector, attractors.

All "MLPs" are pairs of 1x1 convolutions. Attribute names (``_net``) and the
``nn.Sequential`` indices match upstream ZoeDepth so that checkpoint keys such
as ``seed_bin_regressor._net.2.weight`` map 1:1 (the upstream behaviour kept
here: docs/upstream_facts.md, metric head).

Two families exist:

* **unnormed** (``bin_centers_type='softplus'``, the NYU default): bin centres
  and attractor points are unbounded positive values in metres (Softplus);
  attractors move the centres without sorting or clipping.
* **normed** (``'normed'``, KITTI): the seed regressor predicts normalised bin
  widths in ``[min_depth, max_depth]``; attractors work in normalised units and
  return sorted, clipped centres in metres.

Attractor strength: upstream's attractor layers take ``alpha``/``gamma`` but
compute the displacement with fixed ``alpha = 300``, ``gamma = 2`` (the
defaults of its distance functions), so the NYU config's ``alpha = 1000`` has
no effect there. ``upstream_constants=True`` (default) reproduces this;
``False`` uses the configured values.

Eval forward (``fused_eval``, set on these modules by the head): each MLP's
1x1 convolutions run as oneDNN convolutions with the ReLU fused
(:func:`mlp_forward`; where
:func:`~mmzoe.models.utils.fused_eval.fused_eval_enabled` holds, else the
plain modules). torch runs a batch-1 NCHW 1x1 convolution as a GEMM over a
bias-filled output (``_slow_conv2d_forward``) followed by a separate ReLU
pass; oneDNN writes bias and ReLU in the kernel. Rounding only (~1e-6 of
the output's magnitude); single thread, 256 -> 128 channels at 192x192:
40.6 -> 30.7 ms, 128 -> 128: 18.7 -> 16.2 ms.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS
from ..utils.fused_eval import conv2d_eval
from ..utils.resize import upsample_to

# Attractor strength that upstream ZoeDepth effectively uses: its attractor
# layers store the configured alpha/gamma (NYU config: alpha 1000) but the
# displacement is computed with the distance functions' own defaults
# (alpha 300, gamma 2). Verified with the shipped head test vector: alpha 300
# reproduces upstream's depth to ~1e-6, alpha 1000 is off by ~0.3 %.
UPSTREAM_ALPHA = 300.0
UPSTREAM_GAMMA = 2

_ATTRACTOR_TYPES = ('inv', 'exp')
_ATTRACTOR_KINDS = ('mean', 'sum')


def inv_attractor(dx: Tensor, alpha: float = 300.0, gamma: int = 2) -> Tensor:
    r"""Inverse attractor displacement :math:`dx / (1 + \alpha\,dx^\gamma)`.

    ``dx ** gamma`` is taken without ``abs`` (as upstream); with the even
    default ``gamma = 2`` the result is an odd function of ``dx`` bounded by
    :math:`1 / (2\sqrt{\alpha})`.

    Args:
        dx (Tensor): Attractor point minus bin centre.
        alpha (float): Attractor strength. Defaults to 300.
        gamma (int): Exponent. Defaults to 2.

    Returns:
        Tensor: Displacement of the same shape as ``dx``.
    """
    return dx / (1 + alpha * dx.pow(gamma))


def exp_attractor(dx: Tensor, alpha: float = 300.0, gamma: int = 2) -> Tensor:
    r"""Exponential attractor displacement :math:`e^{-\alpha |dx|^\gamma} dx`.

    Args:
        dx (Tensor): Attractor point minus bin centre.
        alpha (float): Attractor strength. Defaults to 300.
        gamma (int): Exponent. Defaults to 2.

    Returns:
        Tensor: Displacement of the same shape as ``dx``.
    """
    return torch.exp(-alpha * dx.abs().pow(gamma)) * dx


def _mlp(in_channels: int, mlp_dim: int, out_channels: int,
         final_act: Optional[nn.Module]) -> nn.Sequential:
    """Conv1x1 -> ReLU -> Conv1x1 (-> ``final_act``), upstream indices 0/2."""
    layers = [
        nn.Conv2d(in_channels, mlp_dim, 1, 1, 0),
        nn.ReLU(inplace=True),
        nn.Conv2d(mlp_dim, out_channels, 1, 1, 0),
    ]
    if final_act is not None:
        layers.append(final_act)
    return nn.Sequential(*layers)


def mlp_forward(net: nn.Sequential, x: Tensor, fused: bool) -> Tensor:
    """``net(x)`` for an MLP of :func:`_mlp`.

    Args:
        net (nn.Sequential): Conv1x1, ReLU, Conv1x1 (, final activation).
        x (Tensor): Input (B, C, H, W).
        fused (bool): Run the convolutions through
            :func:`~mmzoe.models.utils.fused_eval.conv2d_eval` (the ReLUs
            inside them; plain operators where the fused ones may not run).

    Returns:
        Tensor: ``net(x)`` (up to rounding when ``fused``).
    """
    if not fused or len(net) < 3 or not isinstance(net[1], nn.ReLU):
        return net(x)
    final = net[3] if len(net) > 3 else None
    relu_last = isinstance(final, nn.ReLU)
    out = conv2d_eval(conv2d_eval(x, net[0], relu=True), net[2],
                      relu=relu_last)
    if final is not None and not relu_last:
        out = final(out)
    return out


def _check_depth_range(min_depth: float, max_depth: float) -> None:
    if not 0 <= min_depth < max_depth:
        raise ValueError('Expected 0 <= min_depth < max_depth, got '
                         f'min_depth={min_depth}, max_depth={max_depth}')


@MODELS.register_module(name='ZoeSeedBinRegressor')
class SeedBinRegressor(nn.Module):
    """Normed seed bin regressor: bin widths normalised to the depth range.

    ``_net`` = Conv(in, mlp_dim), ReLU, Conv(mlp_dim, n_bins), ReLU. The output
    plus 1e-3 is normalised over the bin axis to widths ``w`` (summing to 1);
    the edges are ``min_depth + cumsum((max - min) * w)`` and the centres the
    mid-points of consecutive edges, so all centres lie in
    ``[min_depth, max_depth]``.

    Args:
        in_channels (int): Input channels (bottleneck width).
        n_bins (int): Number of bins. Defaults to 16.
        mlp_dim (int): Hidden width. Defaults to 256.
        min_depth (float): Lower depth bound in metres. Defaults to 1e-3.
        max_depth (float): Upper depth bound in metres. Defaults to 10.
    """

    # set by the head (fused_eval): see mlp_forward
    fused_eval: bool = False

    def __init__(self,
                 in_channels: int,
                 n_bins: int = 16,
                 mlp_dim: int = 256,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0) -> None:
        super().__init__()
        _check_depth_range(min_depth, max_depth)
        self.n_bins = n_bins
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self._net = _mlp(in_channels, mlp_dim, n_bins, nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Predict normalised widths and centres.

        Args:
            x (Tensor): Features (B, in_channels, h, w).

        Returns:
            tuple[Tensor, Tensor]: Normalised widths (B, n_bins, h, w) and bin
            centres in metres (B, n_bins, h, w).
        """
        widths = mlp_forward(self._net, x, self.fused_eval) + 1e-3
        widths_normed = widths / widths.sum(dim=1, keepdim=True)
        widths_m = (self.max_depth - self.min_depth) * widths_normed
        # Leading edge at min_depth, then cumulative widths.
        widths_m = F.pad(widths_m, (0, 0, 0, 0, 1, 0), value=self.min_depth)
        edges = torch.cumsum(widths_m, dim=1)
        centers = 0.5 * (edges[:, :-1, ...] + edges[:, 1:, ...])
        return widths_normed, centers


@MODELS.register_module(name='ZoeSeedBinRegressorUnnormed')
class SeedBinRegressorUnnormed(nn.Module):
    """Unnormed ("softplus") seed bin regressor: centres in metres.

    ``_net`` = Conv(in, mlp_dim), ReLU, Conv(mlp_dim, n_bins), Softplus. The
    depth range is accepted for interface symmetry but not used.

    Args:
        in_channels (int): Input channels (bottleneck width).
        n_bins (int): Number of bins. Defaults to 16.
        mlp_dim (int): Hidden width. Defaults to 256.
        min_depth (float): Unused. Defaults to 1e-3.
        max_depth (float): Unused. Defaults to 10.
    """

    # set by the head (fused_eval): see mlp_forward
    fused_eval: bool = False

    def __init__(self,
                 in_channels: int,
                 n_bins: int = 16,
                 mlp_dim: int = 256,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0) -> None:
        super().__init__()
        self.n_bins = n_bins
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self._net = _mlp(in_channels, mlp_dim, n_bins, nn.Softplus())

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Predict bin centres.

        Args:
            x (Tensor): Features (B, in_channels, h, w).

        Returns:
            tuple[Tensor, Tensor]: The centres (B, n_bins, h, w), twice
            (normalised and metric outputs coincide for this variant).
        """
        centers = mlp_forward(self._net, x, self.fused_eval)
        return centers, centers


@MODELS.register_module(name='ZoeProjector')
class Projector(nn.Module):
    """Bin-embedding projector: Conv(in, mlp_dim), ReLU, Conv(mlp_dim, out).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Embedding width (``bin_embedding_dim``).
        mlp_dim (int): Hidden width. Defaults to 128.
    """

    # set by the head (fused_eval): see mlp_forward
    fused_eval: bool = False

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mlp_dim: int = 128) -> None:
        super().__init__()
        self._net = _mlp(in_channels, mlp_dim, out_channels, None)

    def forward(self, x: Tensor) -> Tensor:
        """Project features (B, in, h, w) to embeddings (B, out, h, w)."""
        return mlp_forward(self._net, x, self.fused_eval)


class _AttractorBase(nn.Module):
    """What both attractor layers share: options, MLP, pulls (not registered).

    ``_net`` = Conv(in, mlp_dim), ReLU, Conv(mlp_dim, ``_OUTPUTS`` *
    n_attractors), ``_final_act()``; a subclass sets these two and its
    ``forward``.

    Args:
        in_channels (int): Embedding width.
        n_bins (int): Number of bin centres. Defaults to 16.
        n_attractors (int): Attractor points per pixel. Defaults to 16.
        mlp_dim (int): Hidden width. Defaults to 128.
        min_depth (float): Lower depth bound in metres. Defaults to 1e-3.
        max_depth (float): Upper depth bound in metres. Defaults to 10.
        alpha (float): Attractor strength. Defaults to 300.
        gamma (int): Attractor exponent. Defaults to 2.
        kind (str): 'mean' or 'sum' over attractors. Defaults to 'sum'.
        attractor_type (str): 'inv' or 'exp'. Defaults to 'exp'.
        upstream_constants (bool): Displace with upstream's effective
            ``alpha = 300``, ``gamma = 2`` instead of ``alpha``/``gamma``
            (see the module docstring). Defaults to True.
    """

    # set by the head (fused_eval): see mlp_forward
    fused_eval: bool = False

    _OUTPUTS = 1  # MLP outputs per attractor

    @staticmethod
    def _final_act() -> nn.Module:
        raise NotImplementedError

    def __init__(self,
                 in_channels: int,
                 n_bins: int = 16,
                 n_attractors: int = 16,
                 mlp_dim: int = 128,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 alpha: float = 300.0,
                 gamma: int = 2,
                 kind: str = 'sum',
                 attractor_type: str = 'exp',
                 upstream_constants: bool = True) -> None:
        super().__init__()
        if kind not in _ATTRACTOR_KINDS:
            raise ValueError('attractor kind must be one of '
                             f'{_ATTRACTOR_KINDS}, got {kind!r}')
        if attractor_type not in _ATTRACTOR_TYPES:
            raise ValueError('attractor_type must be one of '
                             f'{_ATTRACTOR_TYPES}, got {attractor_type!r}')
        if n_attractors < 1:
            raise ValueError(f'n_attractors must be >= 1, got {n_attractors}')
        _check_depth_range(min_depth, max_depth)
        self.n_bins = n_bins
        self.n_attractors = n_attractors
        self.mlp_dim = mlp_dim
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.alpha = float(alpha)
        self.gamma = gamma
        self.kind = kind
        self.attractor_type = attractor_type
        self.upstream_constants = upstream_constants
        self._net = _mlp(in_channels, mlp_dim, self._OUTPUTS * n_attractors,
                         self._final_act())

    def forward(self,
                x: Tensor,
                b_prev: Tensor,
                prev_b_embedding: Optional[Tensor] = None,
                interpolate: bool = True) -> Tuple[Tensor, Tensor]:
        """Move the previous centres towards this stage's attractors.

        Args:
            x (Tensor): Embedding (B, in_channels, h, w).
            b_prev (Tensor): Previous centres (B, n_bins, h', w'), in the
                units of the layer (see :meth:`_move`).
            prev_b_embedding (Tensor, optional): Previous embedding, added to
                ``x`` (after upsampling) before the MLP.
            interpolate (bool): Upsample ``prev_b_embedding`` to ``x``'s size.
                Defaults to True.

        Returns:
            tuple[Tensor, Tensor]: The centres for the next stage and the
            metric centres, both (B, n_bins, h, w).
        """
        if prev_b_embedding is not None:
            if interpolate:
                prev_b_embedding = upsample_to(prev_b_embedding, x.shape[-2:])
            x = x + prev_b_embedding
        return self._move(mlp_forward(self._net, x, self.fused_eval),
                          b_prev)

    def _move(self, out: Tensor, b_prev: Tensor) -> Tuple[Tensor, Tensor]:
        """The new centres from the MLP output and ``b_prev``."""
        raise NotImplementedError

    def _displacement(self, attractors: Tensor, centers: Tensor) -> Tensor:
        """Aggregate attractor pulls on every bin centre.

        Args:
            attractors (Tensor): (B, n_attractors, h, w).
            centers (Tensor): (B, n_bins, h, w).

        Returns:
            Tensor: (B, n_bins, h, w) displacement of the centres.
        """
        dx = attractors.unsqueeze(2) - centers.unsqueeze(1)
        pull = inv_attractor if self.attractor_type == 'inv' else exp_attractor
        if self.upstream_constants:
            delta = pull(dx, UPSTREAM_ALPHA, UPSTREAM_GAMMA)
        else:
            delta = pull(dx, self.alpha, self.gamma)
        if self.kind == 'mean':
            return delta.mean(dim=1)
        return delta.sum(dim=1)

    def extra_repr(self) -> str:
        return (f'n_bins={self.n_bins}, n_attractors={self.n_attractors}, '
                f'alpha={self.alpha}, gamma={self.gamma}, kind={self.kind}, '
                f'type={self.attractor_type}, '
                f'upstream_constants={self.upstream_constants}, '
                f'depth=[{self.min_depth}, {self.max_depth}]')


@MODELS.register_module(name='ZoeAttractorLayer')
class AttractorLayer(_AttractorBase):
    """Normed attractor layer (bounded centres, sorted and clipped output).

    ``_net`` = Conv(in, mlp_dim), ReLU, Conv(mlp_dim, 2 * n_attractors), ReLU.
    The output plus 1e-3 is viewed as (B, n_attractors, 2, h, w); as upstream,
    the **raw first element** of each pair is the attractor point in
    normalised units (upstream computes a pair normalisation and discards it,
    docs/upstream_facts.md; the second element of each pair is unused). Centres
    ``b_prev`` (normalised) are upsampled to the embedding size and moved by
    the attractors. The normalised centres are returned for the next stage,
    together with metric centres ``(max - min) * c + min`` sorted along the
    bin axis and clipped to ``[min_depth, max_depth]``.

    Args: as :class:`_AttractorBase` (every argument has its default).
    """

    _OUTPUTS = 2

    @staticmethod
    def _final_act() -> nn.Module:
        return nn.ReLU(inplace=True)

    def _move(self, out: Tensor, b_prev: Tensor) -> Tuple[Tensor, Tensor]:
        """Normalised centres (B, n_bins, h, w) and sorted, clipped metric
        centres from the MLP output and the normalised ``b_prev``."""
        out = out + 1e-3
        b, _, h, w = out.shape
        pairs = out.view(b, self.n_attractors, 2, h, w)
        attractors = pairs[:, :, 0, ...]  # raw first element (upstream quirk)
        centers = upsample_to(b_prev, (h, w))
        centers = centers + self._displacement(attractors, centers)
        metric = (self.max_depth - self.min_depth) * centers + self.min_depth
        metric, _ = torch.sort(metric, dim=1)
        metric = torch.clip(metric, self.min_depth, self.max_depth)
        return centers, metric


@MODELS.register_module(name='ZoeAttractorLayerUnnormed')
class AttractorLayerUnnormed(_AttractorBase):
    """Unnormed attractor layer: attractor points and centres in metres.

    ``_net`` = Conv(in, mlp_dim), ReLU, Conv(mlp_dim, n_attractors), Softplus.
    No sorting and no clipping of the centres.

    Args: as :class:`_AttractorBase` (``min_depth``/``max_depth`` are not
    used by the maths).
    """

    @staticmethod
    def _final_act() -> nn.Module:
        return nn.Softplus()

    def _move(self, out: Tensor, b_prev: Tensor) -> Tuple[Tensor, Tensor]:
        """The new centres (metres), twice, from the MLP output (the
        attractor points) and ``b_prev`` (metres)."""
        attractors = out
        centers = upsample_to(b_prev, attractors.shape[-2:])
        centers = centers + self._displacement(attractors, centers)
        return centers, centers


# The modules whose ``_net`` runs through :func:`mlp_forward` (the head's
# ``fused_eval`` sets them).
BINS_MLP_MODULES = (SeedBinRegressor, SeedBinRegressorUnnormed, Projector,
                    _AttractorBase)
