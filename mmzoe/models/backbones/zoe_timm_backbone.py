"""Any timm feature extractor as a 4-level backbone (small CPU cores)."""
from typing import Sequence, Tuple

import timm
import torch
from mmengine.model import BaseModule

from mmzoe.registry import MODELS


@MODELS.register_module()
class ZoeTimmBackbone(BaseModule):
    """A timm model in ``features_only`` mode, randomly initialised.

    Gives the four maps (strides 4, 8, 16, 32 for the usual convnets) that
    :class:`~mmzoe.models.necks.ZoeDPTNeck` takes, so a small convolutional
    core can stand in for SwinV2 (e.g. the CPU demo). Extra keyword
    arguments go to :func:`timm.create_model`, e.g. for a slim ResNet-18::

        dict(type='ZoeTimmBackbone', model_name='resnet18',
             channels=(32, 64, 128, 256), stem_width=32)

    Weights never come from the network: ``pretrained`` is always False
    (load local weights through ``init_cfg`` or a checkpoint instead).

    Args:
        model_name (str): timm model name, e.g. ``'resnet18'``.
        out_indices (Sequence[int]): Feature levels to return. Defaults to
            (1, 2, 3, 4) (strides 4..32 for timm ResNets).
        in_channels (int): Input channels. Defaults to 3.
        init_cfg (dict, optional): MMEngine init config.
        **kwargs: Passed to :func:`timm.create_model`.
    """

    def __init__(self,
                 model_name: str,
                 out_indices: Sequence[int] = (1, 2, 3, 4),
                 in_channels: int = 3,
                 init_cfg=None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if kwargs.pop('pretrained', False):
            raise ValueError(
                'ZoeTimmBackbone never downloads weights (pretrained=True '
                'is not supported); load a local checkpoint instead.')
        self.model = timm.create_model(
            model_name,
            pretrained=False,
            features_only=True,
            out_indices=tuple(out_indices),
            in_chans=in_channels,
            **kwargs)
        self.out_channels = list(self.model.feature_info.channels())
        self.out_strides = list(self.model.feature_info.reduction())

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (Tensor): (B, C, H, W) normalised images.

        Returns:
            tuple[Tensor]: One NCHW map per ``out_indices`` entry.
        """
        return tuple(self.model(x))
