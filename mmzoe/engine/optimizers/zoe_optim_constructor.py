"""Per-part learning rates as ZoeDepth trains (docs/upstream_facts.md)."""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from mmzoe.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ZoeDepthOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Four parameter groups as upstream ZoeDepth's trainer builds them.

    With base learning rate ``lr`` (``optimizer.lr``) the groups are, in order:

    1. ``encoder``: backbone parameters without ``relative_position`` in the
       name, lr / ``encoder_lr_factor`` (10 upstream);
    2. ``pos_enc``: backbone parameters with ``relative_position`` in the name,
       lr / ``pos_enc_lr_factor`` (10). Empty, and dropped, for SwinV2 and
       CNN cores; BEiT cores' ``relative_position_bias_table`` land here;
    3. ``decoder``: the DPT neck and relative-depth head (``neck.*``),
       lr / ``decoder_lr_factor`` (upstream's ``midas_lr_factor``, 1 for NYU);
    4. ``head``: everything else (metric head, auxiliary head), lr.

    Weight decay applies to every group, as upstream. Frozen parameters
    (``requires_grad=False``) are left out; empty groups are dropped (AdamW's
    result is the same). Each group carries a ``name`` key for logging.

    Args:
        optim_wrapper_cfg (dict): The optimizer wrapper config.
        paramwise_cfg (dict, optional): ``encoder_lr_factor`` (default 10),
            ``pos_enc_lr_factor`` (default 10), ``decoder_lr_factor``
            (default 1), ``encoder_prefix`` ('backbone.'), ``decoder_prefix``
            ('neck.'), ``pos_enc_key`` (the name part marking position
            encodings: 'relative_position' for MiDaS cores, 'pos_embed' for
            the Depth Anything ViTs, as upstream's ``get_rel_pos_params``). A factor <= 0 freezes that part (its parameters get
            ``requires_grad=False``), as upstream does for the encoder.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.encoder_lr_factor = float(
            paramwise_cfg.pop('encoder_lr_factor', 10.))
        self.pos_enc_lr_factor = float(
            paramwise_cfg.pop('pos_enc_lr_factor', 10.))
        self.decoder_lr_factor = float(
            paramwise_cfg.pop('decoder_lr_factor', 1.))
        self.encoder_prefix = paramwise_cfg.pop('encoder_prefix', 'backbone.')
        self.decoder_prefix = paramwise_cfg.pop('decoder_prefix', 'neck.')
        self.pos_enc_key = paramwise_cfg.pop('pos_enc_key',
                                             'relative_position')
        if paramwise_cfg:
            raise KeyError('ZoeDepthOptimWrapperConstructor got unknown '
                           f'paramwise_cfg keys: {sorted(paramwise_cfg)}')
        super().__init__(optim_wrapper_cfg, None)

    def _group_of(self, name: str) -> str:
        if name.startswith(self.encoder_prefix):
            return 'pos_enc' if self.pos_enc_key in name else 'encoder'
        if name.startswith(self.decoder_prefix):
            return 'decoder'
        return 'head'

    def param_groups(self, model: nn.Module) -> List[Dict]:
        """Split the model's trainable parameters into the four groups.

        Args:
            model (nn.Module): The model (unwrapped).

        Returns:
            list[dict]: Parameter groups with ``params``, ``lr`` and ``name``.
        """
        base_lr = self.optimizer_cfg['lr']
        factors = dict(
            encoder=self.encoder_lr_factor,
            pos_enc=self.pos_enc_lr_factor,
            decoder=self.decoder_lr_factor,
            head=1.)
        groups: Dict[str, List[nn.Parameter]] = {k: [] for k in factors}
        for name, param in model.named_parameters():
            group = self._group_of(name)
            if factors[group] <= 0:
                param.requires_grad_(False)
            if param.requires_grad:
                groups[group].append(param)
        result = []
        for key, params in groups.items():
            if params:
                result.append(
                    dict(params=params, lr=base_lr / factors[key], name=key))
        summary = ', '.join(
            f"{g['name']}: {sum(p.numel() for p in g['params']):,} params "
            f"lr {g['lr']:.3g}" for g in result)
        print_log(f'ZoeDepth parameter groups: {summary}', logger='current')
        return result

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = self.param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            optim_wrapper_cfg, default_args=dict(optimizer=optimizer))
