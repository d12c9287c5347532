"""ZoeDepth metric-bins decode head (docs/upstream_facts.md, metric head)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from mmzoe.registry import MODELS
from ..layers import ConditionalLogBinomial
from ..utils.core_output import ZoeCoreOutput
from ..utils.resize import upsample_to
from .bins_head_base import ZoeBinsHeadBase, bin_layer_classes
from .loss_build import sum_losses

__all__ = ['ZoeDepthHead', 'bin_layer_classes']


@MODELS.register_module()
class ZoeDepthHead(ZoeBinsHeadBase):
    """ZoeDepth metric head: seed bins, 4 attractor stages, log-binomial.

    Reads the core's :class:`~mmzoe.models.utils.ZoeCoreOutput` by name
    (``bottleneck``, ``decoder`` = (r4, r3, r2, r1), ``out_conv``,
    ``rel_depth``) and returns metric depth at the resolution of
    ``out_conv`` (the network input):

    1. ``conv2`` (1x1) on ``bottleneck``; the seed regressor gives ``n_bins``
       centres, ``seed_projector`` the first bin embedding.
    2. For ``r4, r3, r2, r1``: ``projectors[i]`` gives an embedding, and
       ``attractors[i]`` (fed with it plus the upsampled previous embedding)
       moves the upsampled previous centres.
    3. ``conditional_log_binomial`` maps ``cat(out_conv, rel_depth)`` and the
       last embedding (upsampled) to per-pixel bin probabilities;
       ``depth = sum_k probs_k * centres_k`` with the centres upsampled.

    All resizes are bilinear with ``align_corners=True``. Sub-module names
    equal upstream ZoeDepth's, so its head keys load after adding the
    ``decode_head.`` prefix. ``conv_seg`` and dropout of ``BaseDecodeHead``
    are removed (the head has exactly the upstream parameters: 478,145 with
    the defaults).

    The losses read ``gt_depth_map`` from the data samples; the default
    :class:`ZoeSILogLoss` masks ``1e-3 < gt < 10`` itself; set its
    ``min_depth``/``max_depth`` together with the head's for other ranges.

    Args:
        in_channels (int): Width of ``bottleneck`` (the DPT feature width).
            Defaults to 256.
        decoder_channels (Sequence[int], optional): Widths of the four
            ``decoder`` maps (the projector inputs). Defaults to
            ``in_channels`` for each.
        out_conv_channels (int): Width of ``out_conv`` (``N_MIDAS_OUT``).
            Defaults to 32.
        n_bins (int): Number of depth bins. Defaults to 64.
        bin_embedding_dim (int): Embedding width. Defaults to 128.
        n_attractors (Sequence[int]): Attractors of the 4 stages.
            Defaults to (16, 8, 4, 1).
        attractor_alpha (float): Attractor strength. Defaults to 1000.
        attractor_gamma (int): Attractor exponent. Defaults to 2.
        attractor_kind (str): 'mean' or 'sum'. Defaults to 'mean'.
        attractor_type (str): 'inv' or 'exp'. Defaults to 'inv'.
        attractor_upstream_constants (bool): As upstream ZoeDepth, displace
            the centres with alpha 300 / gamma 2 whatever ``attractor_alpha``
            and ``attractor_gamma`` say (upstream stores but never applies
            them; needed for equality with upstream weights). Set False to
            apply the configured values. Defaults to True.
        bin_centers_type (str): 'softplus', 'normed', 'hybrid1' (normed
            seed, unnormed attractors) or 'hybrid2' (softplus seed, normed
            attractors). Defaults to 'softplus'.
        min_depth (float): Minimum depth in metres. Defaults to 1e-3.
        max_depth (float): Maximum depth in metres. Defaults to 10.
        min_temp (float): Minimum log-binomial temperature.
            Defaults to 0.0212.
        max_temp (float): Maximum log-binomial temperature. Defaults to 50.
        seed_mlp_dim (int): Hidden width of the seed regressor.
            Defaults to 256.
        projector_mlp_dim (int): Hidden width of the projectors.
            Defaults to 128.
        attractor_mlp_dim (int): Hidden width of the attractors.
            Defaults to 128.
        clb_bottleneck_factor (int): Hidden width divisor of the
            conditional log-binomial MLP. Defaults to 2.
        clb_p_eps (float): Its pair-normalisation epsilon. Defaults to 1e-4.
        clb_project_condition (bool): Project the bin embedding at its own
            size before upsampling it (the same function as upstream's
            upsample-then-convolve up to rounding, 2.3 GFLOP less at 384²;
            see ``ZoeConditionalLogBinomial``). Defaults to False
            (upstream's order).
        fused_expectation (bool): Compute the depth ``sum(probs * centres)``
            with ``ZoeLogBinomial.expectation``: the full-resolution bin
            probabilities are built in strips of rows and recomputed in the
            backward pass instead of being kept (the same function up to
            rounding; less memory, faster on CPU). Not used when
            ``return_extras`` asks for the probabilities. Defaults to False
            (upstream's order).
        fused_eval (bool): In the eval forward without gradients (float32
            CPU), run the 1x1 convolutions of the seed regressor,
            projectors and attractors as oneDNN convolutions with the
            bias and ReLU inside (the same function up to rounding; see
            :mod:`mmzoe.models.layers.zoe_bins`). Defaults to False.
        loss_decode (dict | Sequence[dict]): Loss config(s).
            Defaults to ``dict(type='ZoeSILogLoss')``.
        align_corners (bool): Kept for mmseg (the estimator reads it).
            Defaults to True.
        with_cp (bool): Activation checkpointing of each attractor stage and
            of the full-resolution log-binomial output while training
            (numerically identical, less memory). Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None
            (PyTorch's default init, as upstream).
    """

    def __init__(self,
                 in_channels: int = 256,
                 decoder_channels: Optional[Sequence[int]] = None,
                 out_conv_channels: int = 32,
                 n_bins: int = 64,
                 bin_embedding_dim: int = 128,
                 n_attractors: Sequence[int] = (16, 8, 4, 1),
                 attractor_alpha: float = 1000.0,
                 attractor_gamma: int = 2,
                 attractor_kind: str = 'mean',
                 attractor_type: str = 'inv',
                 attractor_upstream_constants: bool = True,
                 bin_centers_type: str = 'softplus',
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 min_temp: float = 0.0212,
                 max_temp: float = 50.0,
                 seed_mlp_dim: int = 256,
                 projector_mlp_dim: int = 128,
                 attractor_mlp_dim: int = 128,
                 clb_bottleneck_factor: int = 2,
                 clb_p_eps: float = 1e-4,
                 clb_project_condition: bool = False,
                 fused_expectation: bool = False,
                 fused_eval: bool = False,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='ZoeSILogLoss'),
                 align_corners: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[ConfigType] = None) -> None:
        super().__init__(in_channels, decoder_channels, out_conv_channels,
                         n_attractors, bin_embedding_dim, bin_centers_type,
                         loss_decode, align_corners, init_cfg)
        self.with_cp = bool(with_cp)
        self.fused_expectation = bool(fused_expectation)
        self.n_bins = n_bins
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.seed_bin_regressor = self.seed_cls(
            in_channels,
            n_bins=n_bins,
            mlp_dim=seed_mlp_dim,
            min_depth=min_depth,
            max_depth=max_depth)
        self.build_projectors(projector_mlp_dim)
        self.attractors = nn.ModuleList([
            self.attractor_cls(
                bin_embedding_dim,
                n_bins,
                n_attractors=n_a,
                mlp_dim=attractor_mlp_dim,
                min_depth=min_depth,
                max_depth=max_depth,
                alpha=attractor_alpha,
                gamma=attractor_gamma,
                kind=attractor_kind,
                attractor_type=attractor_type,
                upstream_constants=attractor_upstream_constants)
            for n_a in n_attractors
        ])
        self.conditional_log_binomial = ConditionalLogBinomial(
            self.out_conv_channels + 1,
            bin_embedding_dim,
            n_classes=n_bins,
            bottleneck_factor=clb_bottleneck_factor,
            p_eps=clb_p_eps,
            project_condition=clb_project_condition,
            max_temp=max_temp,
            min_temp=min_temp)
        self.fused_eval = fused_eval

    def forward(self,
                inputs: ZoeCoreOutput,
                return_extras: bool = False
                ) -> Union[Tensor, Dict[str, Tensor]]:
        """Predict metric depth at the resolution of ``out_conv``.

        Args:
            inputs (ZoeCoreOutput): The core's output. Its ``rel_depth`` may
                be (B, H, W) or (B, 1, H, W).
            return_extras (bool): Return a dict with ``metric_depth``,
                ``bin_centers`` (upsampled to the output size, (B, n_bins,
                H, W)) and ``probs`` (B, n_bins, H, W) instead of the depth.
                Defaults to False.

        Returns:
            Tensor | dict[str, Tensor]: Depth (B, 1, H, W) in metres, or the
            dict described above.
        """
        if not isinstance(inputs, ZoeCoreOutput):
            raise TypeError('ZoeDepthHead reads a ZoeCoreOutput (the output '
                            'of ZoeDPTNeck), got '
                            f'{type(inputs).__name__}.')
        out_conv, rel_depth = inputs.out_conv, inputs.rel_depth
        if rel_depth.ndim == 3:
            rel_depth = rel_depth.unsqueeze(1)
        if rel_depth.shape[1] != 1:
            raise ValueError('ZoeDepthHead: rel_depth must have 1 channel, '
                             f'got shape {tuple(rel_depth.shape)}.')

        x = self.conv2(inputs.bottleneck)
        _, seed_centers = self.seed_bin_regressor(x)
        if self._normalise_seed:
            b_prev = (seed_centers - self.min_depth) / (
                self.max_depth - self.min_depth)
        else:
            b_prev = seed_centers
        prev_emb = self.seed_projector(x)

        centers = seed_centers
        for i, feat in enumerate(inputs.decoder):
            b_prev, centers, prev_emb = self._run(self._attractor_stage, i,
                                                  feat, b_prev, prev_emb)
        fused = self.fused_expectation and not return_extras
        if self._use_cp():
            # Two checkpoint segments: the backward pass then holds the
            # full-resolution activations of only one at a time.
            p, t = cp.checkpoint(
                self._mode_and_temperature, out_conv, rel_depth, prev_emb,
                use_reentrant=False)
            depth, centers, probs = cp.checkpoint(
                self._depth, p, t, centers, fused, use_reentrant=False)
        else:
            out_size = out_conv.shape[-2:]
            rel = upsample_to(rel_depth, out_size)
            last = torch.cat([out_conv, rel], dim=1)
            # contiguous before the x4 resize, not after (the fused-eval
            # neck gives channels-last maps; the expectation reads NCHW)
            centers = upsample_to(centers.contiguous(), out_size)
            # the embedding is upsampled inside (after its 1x1 projection
            # with clb_project_condition)
            if fused:
                probs = None
                depth = self.conditional_log_binomial(
                    last, prev_emb, values=centers)
            else:
                probs = self.conditional_log_binomial(last, prev_emb)
                depth = torch.sum(probs * centers, dim=1, keepdim=True)
        if return_extras:
            return dict(
                metric_depth=depth, bin_centers=centers, probs=probs)
        return depth

    def _use_cp(self) -> bool:
        return self.with_cp and self.training and torch.is_grad_enabled()

    def _run(self, fn, *args):
        """Call ``fn``, checkpointed when ``with_cp`` applies."""
        if self._use_cp():
            return cp.checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def _attractor_stage(self, i: int, feat: Tensor, b_prev: Tensor,
                         prev_emb: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Projector ``i`` and attractor ``i``: (b_prev, centres, emb)."""
        emb = self.projectors[i](feat)
        b_prev, centers = self.attractors[i](
            emb, b_prev, prev_b_embedding=prev_emb, interpolate=True)
        return b_prev, centers, emb

    def _mode_and_temperature(self, out_conv: Tensor, rel_depth: Tensor,
                              emb: Tensor) -> Tuple[Tensor, Tensor]:
        """Log-binomial mode and temperature at ``out_conv`` size."""
        out_size = out_conv.shape[-2:]
        rel = upsample_to(rel_depth, out_size)
        last = torch.cat([out_conv, rel], dim=1)
        return self.conditional_log_binomial.mode_and_temperature(last, emb)

    def _depth(self, p: Tensor, t: Tensor, centers: Tensor,
               fused: bool) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Depth from the bin probabilities: (depth, upsampled centres,
        probs); probs is None when ``fused``."""
        log_binomial = self.conditional_log_binomial.log_binomial_transform
        centers = upsample_to(centers, p.shape[-2:])
        if fused:
            return log_binomial.expectation(p, t, centers), centers, None
        probs = log_binomial(p, t)
        depth = torch.sum(probs * centers, dim=1, keepdim=True)
        return depth, centers, probs

    def loss(self, inputs: ZoeCoreOutput, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward and compute the depth losses.

        Args:
            inputs (ZoeCoreOutput): The core's output.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_depth_map`` (metres, 0 = invalid).
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: One entry per ``loss_name``.
        """
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    @staticmethod
    def _gt_depths(batch_data_samples: SampleList
                   ) -> Union[Tensor, List[Tensor]]:
        """Collect GT depth maps: stacked (B, 1, H, W) or a list if sizes
        differ. A sample whose metainfo has ``gt_depth_shape`` (the size
        before batch padding) is cropped to it."""
        gts = []
        for i, sample in enumerate(batch_data_samples):
            if 'gt_depth_map' not in sample:
                raise KeyError(f'ZoeDepthHead: data sample {i} has no '
                               'gt_depth_map')
            gt = sample.gt_depth_map.data
            if gt.ndim == 2:
                gt = gt[None]
            shape = sample.metainfo.get('gt_depth_shape')
            if shape is not None:
                gt = gt[..., :int(shape[0]), :int(shape[1])]
            gts.append(gt)
        if all(g.shape == gts[0].shape for g in gts):
            return torch.stack(gts, dim=0)
        return gts

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Apply every loss of ``loss_decode`` to the predicted depth.

        Args:
            seg_logits (Tensor): Predicted depth (B, 1, h, w); each loss
                resizes it to the GT size.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_depth_map``.

        Returns:
            dict[str, Tensor]: Losses keyed by their ``loss_name`` (summed
            when several losses share a name).
        """
        gt = self._gt_depths(batch_data_samples)
        return sum_losses(self.loss_decode,
                          lambda loss_fn: loss_fn(seg_logits, gt))
