"""ZoeDepth-NK head: shared bin embeddings, one metric head per domain and a
router that picks the head of each image (ZoeD_M12_NK)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from mmzoe.registry import MODELS
from ..layers import ConditionalLogBinomial
from ..layers.patch_transformer import ZoePatchTransformerRouter
from ..utils.core_output import ZoeCoreOutput
from ..utils.resize import upsample_to
from .bins_head_base import ZoeBinsHeadBase

_DEFAULT_DOMAINS = (
    dict(name='nyu', n_bins=64, min_depth=1e-3, max_depth=10.0),
    dict(name='kitti', n_bins=64, min_depth=1e-3, max_depth=80.0),
)


@MODELS.register_module()
class ZoeDepthNKHead(ZoeBinsHeadBase):
    """Metric bins head with one bin/attractor/log-binomial set per domain.

    Reads the core's :class:`~mmzoe.models.utils.ZoeCoreOutput` by name
    (``bottleneck``, ``decoder``, ``out_conv``; the relative depth is not
    used). Shared by all domains: ``conv2`` on the bottleneck, the router
    (:class:`ZoePatchTransformerRouter`, ``router.patch_transformer`` and
    ``router.mlp_classifier``), ``seed_projector`` and ``projectors``.
    Per domain (``ModuleDict`` keyed by the domain name):
    ``seed_bin_regressors``, ``attractors`` (4 stages) and
    ``conditional_log_binomial``, each with the domain's bin count and depth
    range. The router gives domain logits from ``conv2(l4_rn)``; each image
    (``route='image'``) or the whole batch (``route='batch'``, upstream's
    vote: softmax of the logits summed over the batch) goes through the
    picked domain's layers. As upstream, the log-binomial sees ``out_conv``
    only (no relative-depth channel).

    Upstream's ZoeDepth-NK passes its ``n_attractors`` list ([16, 8, 4, 1])
    to the attractor layers' ``n_bins`` argument, so every stage of the
    released model has 16 attractors: ``n_attractors=(16, 16, 16, 16)``
    reproduces it.

    Args:
        in_channels (int): Bottleneck width. Defaults to 256.
        decoder_channels (Sequence[int], optional): Widths of r4..r1.
            Defaults to ``in_channels`` for all four.
        out_conv_channels (int): Width of ``out_conv``. Defaults to 32.
        domains (Sequence[dict]): One dict per metric head with ``name``,
            ``n_bins``, ``min_depth``, ``max_depth``; the order is the
            router's logit order. Defaults to NYU (64 bins, 10 m) then KITTI
            (64 bins, 80 m).
        bin_embedding_dim (int): Embedding width. Defaults to 128.
        n_attractors (Sequence[int]): Attractors of the 4 stages.
            Defaults to (16, 16, 16, 16) (see above).
        attractor_alpha (float): Attractor strength. Defaults to 1000.
        attractor_gamma (int): Attractor exponent. Defaults to 2.
        attractor_kind (str): 'mean' or 'sum'. Defaults to 'mean'.
        attractor_type (str): 'inv' or 'exp'. Defaults to 'inv'.
        attractor_upstream_constants (bool): See :class:`ZoeDepthHead`.
            Defaults to True.
        bin_centers_type (str): As :class:`ZoeDepthHead`.
            Defaults to 'softplus'.
        min_temp (float): Minimum temperature. Defaults to 0.0212.
        max_temp (float): Maximum temperature. Defaults to 50.
        seed_mlp_dim (int): Seed regressor hidden width. Defaults to 64.
        projector_mlp_dim (int): Projector hidden width. Defaults to 64.
        attractor_mlp_dim (int): Attractor hidden width. Defaults to 128.
        clb_bottleneck_factor (int): Log-binomial MLP divisor.
            Defaults to 4.
        router (dict, optional): Extra :class:`ZoePatchTransformerRouter`
            arguments. Defaults to None (patch 1, width 128, 4 heads, 4
            layers).
        route (str): 'image' (each image its own pick) or 'batch' (one
            pick per batch, upstream). Defaults to 'image'.
        train_route (str): Which head the depth loss trains: 'router' (the
            router's pick, upstream) or 'gt' (the sample's ``domain``).
            Defaults to 'router'.
        domain_loss_weight (float): Weight of the router's cross-entropy
            against the samples' ``domain`` (upstream ``w_domain``: 100).
            Defaults to 100.
        loss_decode (dict | Sequence[dict]): Depth loss config(s); its range
            should cover every domain (each sample is further masked to its
            domain's range). Defaults to ``ZoeSILogLoss`` with
            ``max_depth=80``.
        align_corners (bool): Kept for mmseg. Defaults to True.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 256,
                 decoder_channels: Optional[Sequence[int]] = None,
                 out_conv_channels: int = 32,
                 domains: Sequence[dict] = _DEFAULT_DOMAINS,
                 bin_embedding_dim: int = 128,
                 n_attractors: Sequence[int] = (16, 16, 16, 16),
                 attractor_alpha: float = 1000.0,
                 attractor_gamma: int = 2,
                 attractor_kind: str = 'mean',
                 attractor_type: str = 'inv',
                 attractor_upstream_constants: bool = True,
                 bin_centers_type: str = 'softplus',
                 min_temp: float = 0.0212,
                 max_temp: float = 50.0,
                 seed_mlp_dim: int = 64,
                 projector_mlp_dim: int = 64,
                 attractor_mlp_dim: int = 128,
                 clb_bottleneck_factor: int = 4,
                 router: Optional[dict] = None,
                 route: str = 'image',
                 train_route: str = 'router',
                 domain_loss_weight: float = 100.0,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='ZoeSILogLoss', min_depth=1e-3, max_depth=80.0),
                 align_corners: bool = True,
                 init_cfg: Optional[ConfigType] = None) -> None:
        if route not in ('image', 'batch'):
            raise ValueError(f"route must be 'image' or 'batch', got "
                             f'{route!r}')
        if train_route not in ('router', 'gt'):
            raise ValueError(f"train_route must be 'router' or 'gt', got "
                             f'{train_route!r}')
        domains = [dict(d) for d in domains]
        names = [d.get('name') for d in domains]
        if not domains or len(set(names)) != len(names) or not all(
                isinstance(n, str) and n for n in names):
            raise ValueError('ZoeDepthNKHead: domains need distinct names, '
                             f'got {names}')
        for d in domains:
            missing = {'n_bins', 'min_depth', 'max_depth'} - set(d)
            if missing:
                raise ValueError(f'ZoeDepthNKHead: domain {d["name"]!r} '
                                 f'lacks {sorted(missing)}')
        super().__init__(in_channels, decoder_channels, out_conv_channels,
                         n_attractors, bin_embedding_dim, bin_centers_type,
                         loss_decode, align_corners, init_cfg)
        self.domains = domains
        self.domain_names = names
        self.route = route
        self.train_route = train_route
        self.domain_loss_weight = float(domain_loss_weight)
        # the estimator clamps to [min_depth, max_depth] of the head, then to
        # the picked domain's range (ZoeDepthNKEstimator)
        self.min_depth = min(float(d['min_depth']) for d in domains)
        self.max_depth = max(float(d['max_depth']) for d in domains)

        btlnck = in_channels
        self.router = ZoePatchTransformerRouter(
            btlnck, num_domains=len(domains), **(router or {}))
        self.build_projectors(projector_mlp_dim)
        self.seed_bin_regressors = nn.ModuleDict({
            d['name']: self.seed_cls(
                btlnck, n_bins=d['n_bins'], mlp_dim=seed_mlp_dim,
                min_depth=d['min_depth'], max_depth=d['max_depth'])
            for d in domains
        })
        self.attractors = nn.ModuleDict({
            d['name']: nn.ModuleList([
                self.attractor_cls(
                    bin_embedding_dim, d['n_bins'], n_attractors=n_a,
                    mlp_dim=attractor_mlp_dim, min_depth=d['min_depth'],
                    max_depth=d['max_depth'], alpha=attractor_alpha,
                    gamma=attractor_gamma, kind=attractor_kind,
                    attractor_type=attractor_type,
                    upstream_constants=attractor_upstream_constants)
                for n_a in n_attractors
            ])
            for d in domains
        })
        self.conditional_log_binomial = nn.ModuleDict({
            d['name']: ConditionalLogBinomial(
                self.out_conv_channels, bin_embedding_dim,
                n_classes=d['n_bins'],
                bottleneck_factor=clb_bottleneck_factor, min_temp=min_temp,
                max_temp=max_temp)
            for d in domains
        })

    # ------------------------------------------------------------ features
    @staticmethod
    def _features(inputs: ZoeCoreOutput) -> Dict[str, Tensor]:
        """The core outputs this head reads, by name (the one place that
        knows the core's output contract)."""
        if not isinstance(inputs, ZoeCoreOutput):
            raise TypeError('ZoeDepthNKHead reads a ZoeCoreOutput (the '
                            'output of ZoeDPTNeck), got '
                            f'{type(inputs).__name__}')
        return dict(bottleneck=inputs.bottleneck, decoder=inputs.decoder,
                    out_conv=inputs.out_conv)

    def domain_index(self, names: Sequence[str]) -> Tensor:
        """Indices of domain names (raises on an unknown name)."""
        out = []
        for n in names:
            if n not in self.domain_names:
                raise KeyError(f'ZoeDepthNKHead: unknown domain {n!r}; the '
                               f'head has {self.domain_names}')
            out.append(self.domain_names.index(n))
        return torch.tensor(out, dtype=torch.long)

    def _domain_depth(self, name: str, x: Tensor, seed_emb: Tensor,
                      embs: Sequence[Tensor], out_conv: Tensor
                      ) -> Dict[str, Tensor]:
        """Depth of a group of images through domain ``name``'s layers."""
        conf = self.domains[self.domain_names.index(name)]
        _, seed_centers = self.seed_bin_regressors[name](x)
        if self._normalise_seed:
            b_prev = (seed_centers - conf['min_depth']) / (
                conf['max_depth'] - conf['min_depth'])
        else:
            b_prev = seed_centers
        prev_emb = seed_emb
        centers = seed_centers
        for attractor, emb in zip(self.attractors[name], embs):
            b_prev, centers = attractor(
                emb, b_prev, prev_b_embedding=prev_emb, interpolate=True)
            prev_emb = emb
        size = out_conv.shape[-2:]
        centers = upsample_to(centers, size)
        probs = self.conditional_log_binomial[name](out_conv, prev_emb)
        depth = torch.sum(probs * centers, dim=1, keepdim=True)
        return dict(metric_depth=depth, bin_centers=centers)

    def forward(self,
                inputs: ZoeCoreOutput,
                domains: Optional[Tensor] = None,
                return_extras: bool = False
                ) -> Union[Tensor, Dict[str, Tensor]]:
        """Route and predict metric depth at the ``out_conv`` resolution.

        Args:
            inputs (ZoeCoreOutput): The core's output.
            domains (Tensor, optional): (B,) domain indices forcing the head
                of each image; None lets the router pick. The router's
                logits are computed either way.
            return_extras (bool): Return a dict with ``metric_depth``,
                ``domain_logits`` (B, D), ``domain`` (B,) long (the head
                used) and ``bin_centers`` instead of the depth.

        Returns:
            Tensor | dict[str, Tensor]: (B, 1, H, W) depth in metres, or the
            dict above.
        """
        f = self._features(inputs)
        x = self.conv2(f['bottleneck'])
        logits = self.router(x)
        if domains is None:
            domains, _ = self.router.vote(
                logits, per_image=self.route == 'image')
        domains = torch.as_tensor(domains, device=x.device).long()
        seed_emb = self.seed_projector(x)
        embs = [p(feat) for p, feat in zip(self.projectors, f['decoder'])]
        out_conv = f['out_conv']
        depth = centers = None
        for d in torch.unique(domains).tolist():
            name = self.domain_names[d]
            if bool((domains == d).all()):
                out = self._domain_depth(name, x, seed_emb, embs, out_conv)
                depth, centers = out['metric_depth'], out['bin_centers']
                break
            idx = (domains == d).nonzero()[:, 0]
            out = self._domain_depth(name, x[idx], seed_emb[idx],
                                     [e[idx] for e in embs], out_conv[idx])
            if depth is None:
                b = x.shape[0]
                depth = out_conv.new_zeros((b, 1) + out_conv.shape[-2:])
                centers = [None] * b
            depth = depth.index_copy(0, idx, out['metric_depth'])
            for j, i in enumerate(idx.tolist()):
                centers[i] = out['bin_centers'][j]
        if not return_extras:
            return depth
        if isinstance(centers, list):
            # bin counts may differ between domains
            try:
                centers = torch.stack(centers)
            except RuntimeError:
                pass
        return dict(metric_depth=depth, domain_logits=logits,
                    domain=domains, bin_centers=centers)

    def predict(self, inputs: ZoeCoreOutput, batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Tensor:
        """Depth at the network resolution (the estimator resizes)."""
        return self.forward(inputs)

    def predict_by_feat(self, seg_logits: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Identity: the depth stays at the network resolution."""
        return seg_logits

    # ------------------------------------------------------------ training
    def _gt_domains(self, batch_data_samples: SampleList) -> Tensor:
        names = []
        for i, s in enumerate(batch_data_samples):
            name = s.metainfo.get('domain')
            if name is None:
                raise KeyError(
                    f'ZoeDepthNKHead: data sample {i} has no "domain" '
                    'metainfo (add ZoeSetDomain to the pipeline and '
                    "'domain' to PackSegInputs' meta_keys)")
            names.append(name)
        return self.domain_index(names)

    def loss(self, inputs: ZoeCoreOutput, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Depth loss on the routed heads plus the router's cross-entropy.

        Each sample's depth loss only counts GT pixels inside its domain's
        ``(min_depth, max_depth)``; ``loss_domain`` is
        ``domain_loss_weight * CE(domain_logits, gt domain)``.

        Args:
            inputs (ZoeCoreOutput): The core's output.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_depth_map`` and ``domain`` metainfo.
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: Depth loss(es) and ``loss_domain``.
        """
        gt_dom = self._gt_domains(batch_data_samples)
        forced = gt_dom if self.train_route == 'gt' else None
        out = self.forward(inputs, domains=forced, return_extras=True)
        gt_dom = gt_dom.to(out['domain_logits'].device)
        gts = [s.gt_depth_map.data for s in batch_data_samples]
        gts = [g[None] if g.ndim == 2 else g for g in gts]
        for i, s in enumerate(batch_data_samples):
            shape = s.metainfo.get('gt_depth_shape')
            if shape is not None:
                gts[i] = gts[i][..., :int(shape[0]), :int(shape[1])]
        masks = []
        for g, d in zip(gts, gt_dom.tolist()):
            conf = self.domains[d]
            masks.append((g > conf['min_depth']) & (g < conf['max_depth']))
        if all(g.shape == gts[0].shape for g in gts):
            gt, mask = torch.stack(gts), torch.stack(masks)
        else:
            gt, mask = gts, masks
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses: Dict[str, Tensor] = {}
        for loss_fn in losses_decode:
            value = loss_fn(out['metric_depth'], gt, valid_mask=mask)
            losses[loss_fn.loss_name] = losses.get(loss_fn.loss_name,
                                                   0) + value
        if self.domain_loss_weight > 0:
            losses['loss_domain'] = self.domain_loss_weight * \
                F.cross_entropy(out['domain_logits'], gt_dom)
        return losses
