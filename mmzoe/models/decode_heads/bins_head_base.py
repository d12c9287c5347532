"""What ZoeDepth's metric bins heads share: the core widths they read, the
bin-centre variant, ``conv2`` on the bottleneck and the projectors."""
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import ConfigType

from mmzoe.registry import MODELS
from ..layers import Projector
from ..layers.zoe_bins import BINS_MLP_MODULES
from .loss_build import qualify_loss_cfgs, quiet_base_head_init


# bin_centers_type -> registered (seed regressor, attractor layer) names and
# whether the seed output is normalised before the first attractor stage
_VARIANTS = {
    'normed': ('ZoeSeedBinRegressor', 'ZoeAttractorLayer', True),
    'softplus': ('ZoeSeedBinRegressorUnnormed', 'ZoeAttractorLayerUnnormed',
                 False),
    'hybrid1': ('ZoeSeedBinRegressor', 'ZoeAttractorLayerUnnormed', False),
    'hybrid2': ('ZoeSeedBinRegressorUnnormed', 'ZoeAttractorLayer', True),
}


def bin_layer_classes(bin_centers_type: str) -> Tuple[type, type, bool]:
    """The seed-regressor and attractor classes of a bin-centre variant.

    Args:
        bin_centers_type (str): ``'normed'``, ``'softplus'``, ``'hybrid1'``
            or ``'hybrid2'`` (upstream ZoeDepth's names).

    Returns:
        tuple: (seed regressor class, attractor layer class, whether the
        seed centres are normalised to [0, 1] for the attractors), looked up
        in mmzoe's ``MODELS`` registry.

    Raises:
        ValueError: For an unknown variant.
    """
    if bin_centers_type not in _VARIANTS:
        raise ValueError(
            f'bin_centers_type must be one of {sorted(_VARIANTS)}, got '
            f'{bin_centers_type!r}')
    seed, attractor, normalise = _VARIANTS[bin_centers_type]
    return MODELS.get(seed), MODELS.get(attractor), normalise


class ZoeBinsHeadBase(BaseDecodeHead):
    """Base of :class:`ZoeDepthHead` and :class:`ZoeDepthNKHead`.

    Checks the widths of the core's outputs the head reads (``bottleneck``:
    ``in_channels``; ``decoder`` r4..r1: ``decoder_channels``), resolves the
    seed-regressor / attractor classes of ``bin_centers_type``
    (``self.seed_cls``, ``self.attractor_cls``, ``self._normalise_seed``),
    drops the classifier and dropout of ``BaseDecodeHead`` (ZoeDepth has
    neither) and builds ``conv2``, the 1x1 convolution on the bottleneck.
    :meth:`build_projectors` adds ``seed_projector`` and ``projectors``; a
    subclass calls it where upstream creates them, so that its parameters
    keep upstream's order.

    Args:
        in_channels (int): Bottleneck width.
        decoder_channels (Sequence[int], optional): Widths of r4..r1.
            None: ``in_channels`` for all four.
        out_conv_channels (int): Width of ``out_conv``.
        n_attractors (Sequence[int]): Attractors of the 4 stages.
        bin_embedding_dim (int): Embedding width.
        bin_centers_type (str): See :func:`bin_layer_classes`.
        loss_decode (dict | Sequence[dict]): Loss config(s).
        align_corners (bool): Kept for mmseg.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, in_channels: int,
                 decoder_channels: Optional[Sequence[int]],
                 out_conv_channels: int, n_attractors: Sequence[int],
                 bin_embedding_dim: int, bin_centers_type: str,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]],
                 align_corners: bool,
                 init_cfg: Optional[ConfigType]) -> None:
        name = type(self).__name__
        if not isinstance(in_channels, int):
            raise TypeError(
                f'{name}: in_channels is the bottleneck width (an int; the '
                'head reads the ZoeCoreOutput fields by name, set '
                'decoder_channels / out_conv_channels for the others), got '
                f'{in_channels!r}')
        decoder_channels = [in_channels] * 4 if decoder_channels is None \
            else [int(c) for c in decoder_channels]
        if len(decoder_channels) != 4:
            raise ValueError(f'{name}: decoder_channels needs the widths '
                             f'of r4, r3, r2, r1, got {decoder_channels}')
        if len(n_attractors) != 4:
            raise ValueError(f'{name}: n_attractors needs one entry per '
                             f'decoder feature (r4, r3, r2, r1), got '
                             f'{list(n_attractors)}')
        seed_cls, attractor_cls, normalise = bin_layer_classes(
            bin_centers_type)
        with quiet_base_head_init():
            super().__init__(
                in_channels,
                bin_embedding_dim,
                num_classes=1,
                out_channels=1,
                dropout_ratio=0.0,
                loss_decode=qualify_loss_cfgs(loss_decode),
                align_corners=align_corners,
                init_cfg=init_cfg)
        # ZoeDepth has no classifier conv: drop the ones of BaseDecodeHead.
        del self.conv_seg
        self.dropout = None
        self.seed_cls, self.attractor_cls = seed_cls, attractor_cls
        self._normalise_seed = normalise
        self.bin_centers_type = bin_centers_type
        self.bin_embedding_dim = bin_embedding_dim
        self.decoder_channels = decoder_channels
        self.out_conv_channels = int(out_conv_channels)
        self.conv2 = nn.Conv2d(in_channels, in_channels, 1, 1, 0)

    @property
    def fused_eval(self) -> bool:
        """Whether the MLPs of the seed regressor, projectors and attractors
        run their 1x1 convolutions as oneDNN fused convolutions in the eval
        forward without gradients (speed switch ``fused_eval``, see
        :mod:`mmzoe.models.layers.zoe_bins`); setting it sets every such
        submodule."""
        return getattr(self, '_fused_eval', False)

    @fused_eval.setter
    def fused_eval(self, value: bool) -> None:
        self._fused_eval = bool(value)
        for module in self.modules():
            if isinstance(module, BINS_MLP_MODULES):
                module.fused_eval = self._fused_eval

    def build_projectors(self, projector_mlp_dim: int) -> None:
        """``seed_projector`` (bottleneck -> bin embedding) and one of
        ``projectors`` per decoder map."""
        self.seed_projector = Projector(
            self.in_channels, self.bin_embedding_dim,
            mlp_dim=projector_mlp_dim)
        self.projectors = nn.ModuleList([
            Projector(c, self.bin_embedding_dim, mlp_dim=projector_mlp_dim)
            for c in self.decoder_channels
        ])
