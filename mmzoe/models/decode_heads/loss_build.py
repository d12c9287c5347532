"""Helpers shared by mmzoe's mmseg decode heads to build their losses."""
import contextlib
import copy
import warnings
from typing import Callable, Dict, Iterator, List, Union

import torch.nn as nn
from mmseg.utils import ConfigType
from torch import Tensor

from mmzoe.registry import MODELS


def _qualify(cfg: ConfigType) -> ConfigType:
    cfg = copy.deepcopy(cfg)
    loss_type = cfg.get('type') if isinstance(cfg, dict) else None
    if isinstance(loss_type, str) and '.' not in loss_type and \
            loss_type in MODELS.module_dict:
        cfg['type'] = f'mmzoe.{loss_type}'
    return cfg


def qualify_loss_cfgs(
        cfg: Union[ConfigType, List[ConfigType]]
) -> Union[ConfigType, List[ConfigType]]:
    """Prefix mmzoe-registered loss types with ``mmzoe.``.

    ``BaseDecodeHead`` builds its losses with mmseg's registry, which only
    finds mmzoe components when the default scope is ``mmzoe``; a qualified
    name works in every scope.

    Args:
        cfg (dict | list[dict]): One loss config or a list of them.

    Returns:
        dict | list[dict]: Copies with qualified types.
    """
    if isinstance(cfg, dict):
        return _qualify(cfg)
    return [_qualify(c) for c in cfg]


@contextlib.contextmanager
def quiet_base_head_init() -> Iterator[None]:
    """Silence the two warnings ``BaseDecodeHead.__init__`` gives for our
    heads: its own deprecated ``build_loss`` helper and the binary
    segmentation threshold (meaningless for a one-channel depth output)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='``build_loss``')
        warnings.filterwarnings('ignore', message='threshold is not')
        yield


def sum_losses(loss_decode: nn.Module,
               call: Callable[[nn.Module], Tensor]) -> Dict[str, Tensor]:
    """Apply every loss of a head's ``loss_decode`` and key them by name.

    Args:
        loss_decode (nn.Module): One loss module or an ``nn.ModuleList``.
        call (Callable): Computes one loss value from a loss module.

    Returns:
        dict[str, Tensor]: Values keyed by ``loss_name``, summed when several
        losses share a name.
    """
    losses_decode = list(loss_decode) if isinstance(
        loss_decode, nn.ModuleList) else [loss_decode]
    losses: Dict[str, Tensor] = {}
    for loss_fn in losses_decode:
        value = call(loss_fn)
        name = loss_fn.loss_name
        losses[name] = losses[name] + value if name in losses else value
    return losses
