"""SwinV2 encoder of the MiDaS v3.1 DPT core, built from timm 1.x."""
import inspect
from typing import Dict, Optional, Sequence, Tuple, Union

import timm
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from timm.layers import Mlp

from mmzoe.registry import MODELS
from ..layers.gelu_linear import ZoeGeluRecomputeMlp
from ..utils.fused_eval import fused_eval_enabled
from .swinv2_eval import (block_eval_applies, block_forward_eval,
                          downsample_eval)
from .swinv2_fused_attention import bias_cache_mode

# Short names of window-attention modules for ``attn_impl`` (any other value
# is looked up in ``MODELS`` as a type name).
ATTENTION_ALIASES: Dict[str, str] = {'sdpa': 'ZoeSwinV2FusedAttention'}


def swinv2_attention_class(attn_impl: str) -> Optional[type]:
    """The window-attention class of ``ZoeSwinV2(attn_impl=...)``.

    Args:
        attn_impl (str): ``'timm'`` (timm's own module), an alias of
            :data:`ATTENTION_ALIASES` (``'sdpa'``) or the registered type
            name of a module with a ``from_timm(attn)`` class method that
            keeps timm's parameter names (``qkv``, ``q_bias``, ``v_bias``,
            ``logit_scale``, ``cpb_mlp``, ``proj``), so that checkpoints
            load unchanged.

    Returns:
        type | None: The class, None for ``'timm'``.

    Raises:
        ValueError: If the name is unknown or the class has no
            ``from_timm``.
    """
    if attn_impl == 'timm':
        return None
    cls = MODELS.get(ATTENTION_ALIASES.get(attn_impl, attn_impl))
    if cls is None or not callable(getattr(cls, 'from_timm', None)):
        raise ValueError(
            f'Unknown SwinV2 attention "{attn_impl}": expected "timm", '
            f'one of {sorted(ATTENTION_ALIASES)} or a registered module with '
            'a from_timm() class method.')
    return cls


@MODELS.register_module()
class ZoeSwinV2(BaseModule):
    """timm SwinV2 returning the four stage outputs as NCHW maps.

    The outputs are taken after the last block of each stage, i.e. **before**
    patch merging (timm 1.x merges at the start of the next stage), and
    **without** any extra norm: the timm final ``norm`` and classifier
    ``head`` are removed (upstream MiDaS computes the norm and discards it).
    This reproduces upstream's timm 0.6 hooks exactly (docs/upstream_facts.md,
    core taps).

    The SwinV2 core is fixed-size: the input must be exactly ``img_size``
    (attention masks and window clipping depend on the token grid).

    Args:
        arch (str): timm model name. Defaults to
            ``'swinv2_base_window12to24_192to384'`` (MiDaS v3.1 SwinV2-B);
            ``swinv2_{tiny,small,large}_*`` names work too.
        img_size (int | tuple[int, int], optional): Network input size.
            Defaults to None (the size of the timm model's pretrained config,
            384 for the default arch).
        drop_path_rate (float): Stochastic depth rate, linear over all blocks.
            Defaults to 0.1 (upstream's timm default).
        out_indices (Sequence[int]): Stages to return. Defaults to
            (0, 1, 2, 3).
        attn_impl (str): Window-attention implementation
            (:func:`swinv2_attention_class`): ``'timm'`` (timm's module),
            ``'sdpa'`` (:class:`ZoeSwinV2FusedAttention`: fused
            ``scaled_dot_product_attention`` with the position bias cached
            in eval mode) or a registered module type. Defaults to
            ``'timm'`` (the shipped configs use ``'sdpa'``, see
            :mod:`mmzoe.models.speed_switches`).
        bias_cache (str): What the ``'sdpa'`` attention keeps of its
            position bias in eval mode (its ``cache_bias``): ``'table'``
            (the per-head table, gathered in every call), ``'full'`` (the
            whole bias: no gather, but SwinV2-B at 384² keeps 531 MB more)
            or ``'none'``. Same values in all three. Defaults to
            ``'table'``; ignored by ``'timm'``.
        with_cp (bool): Activation checkpointing of every SwinV2 block
            while training (timm's ``set_grad_checkpointing``): less memory,
            one more forward per block in the backward pass. Numerically
            identical. Defaults to False.
        fused_eval (bool): In eval mode without gradients (float32, CPU):
            run the blocks through
            :func:`~mmzoe.models.backbones.swinv2_eval.block_forward_eval`
            (shift, padding and window partition as one gather, MLP bias
            and GELU inside oneDNN's GEMM), the fused attention's eval path
            (``attn_impl='sdpa'``) and return the stage maps as
            channels-last views of timm's NHWC tokens (no copy). Equal to
            the plain forward up to rounding. Defaults to False.
        recompute_gelu (bool): In training, the block MLPs keep only the
            GELU input for the backward pass and recompute its output
            there (:class:`~mmzoe.models.layers.ZoeGeluRecomputeMlp`):
            same values and gradients, 146 MB less training memory for
            SwinV2-B at 384² (docs/memory.md). Defaults to True.
        attn_recompute_bias (bool): In CPU training with
            ``attn_impl='sdpa'``, the attention keeps the per-head
            position-bias table instead of the gathered bias or the
            probabilities, and recomputes them in the backward pass: SwinV2-B
            at 384² keeps 0.38 GB less, for one more q kᵀ, gather and softmax
            per block in the backward pass. Gradients equal up to rounding.
            Defaults to False.
        toeplitz_bias (bool): With ``attn_impl='sdpa'``, build each
            block's position bias by strided copies of its table and, in
            training, the table's gradient by offset sums, instead of an
            index gather and ``index_add_`` (the attention's
            ``toeplitz_bias``; same bias values). Defaults to False (the
            shipped configs set it, see :mod:`mmzoe.models.speed_switches`);
            ignored by ``'timm'``.
        init_cfg (dict, optional): MMEngine init config. Defaults to None.
        **timm_kwargs: Passed to ``timm.create_model`` (e.g. ``embed_dim``,
            ``depths``, ``num_heads``, ``window_size``,
            ``pretrained_window_sizes``). ``pretrained`` is not accepted:
            weights come from converted local checkpoints.
    """

    def __init__(self,
                 arch: str = 'swinv2_base_window12to24_192to384',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 attn_impl: str = 'timm',
                 bias_cache: str = 'table',
                 with_cp: bool = False,
                 fused_eval: bool = False,
                 recompute_gelu: bool = True,
                 attn_recompute_bias: bool = False,
                 toeplitz_bias: bool = False,
                 init_cfg: Optional[dict] = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        for bad in ('pretrained', 'features_only', 'num_classes'):
            if bad in timm_kwargs:
                raise ValueError(
                    f'ZoeSwinV2 does not accept "{bad}" (weights come from a '
                    'converted local checkpoint; the classifier is removed).')
        if img_size is not None:
            timm_kwargs['img_size'] = img_size
        self.model = timm.create_model(
            arch,
            pretrained=False,
            num_classes=0,
            drop_path_rate=drop_path_rate,
            **timm_kwargs)
        num_stages = len(self.model.layers)
        self.out_indices = tuple(int(i) for i in out_indices)
        if not self.out_indices or any(i < 0 or i >= num_stages
                                       for i in self.out_indices):
            raise ValueError(f'out_indices {out_indices} out of range for '
                             f'{num_stages} stages.')
        # Drops the final norm and the classifier (and stages after the last
        # requested one).
        self.model.prune_intermediate_layers(
            list(self.out_indices), prune_norm=True, prune_head=True)
        self.img_size: Tuple[int, int] = tuple(
            self.model.patch_embed.img_size)
        self.out_channels = tuple(self.model.feature_info[i]['num_chs']
                                  for i in self.out_indices)
        self.strides = tuple(self.model.feature_info[i]['reduction']
                             for i in self.out_indices)
        self.attn_impl = attn_impl
        self.bias_cache = bias_cache_mode(bias_cache)
        self.toeplitz_bias = bool(toeplitz_bias)
        self._set_attention(attn_impl, self.bias_cache, self.toeplitz_bias)
        self.with_cp = bool(with_cp)
        self.model.set_grad_checkpointing(self.with_cp)
        self.fused_eval = bool(fused_eval)
        self.recompute_gelu = bool(recompute_gelu)
        if self.recompute_gelu:
            for stage in self.model.layers:
                for block in stage.blocks:
                    if type(block.mlp) is Mlp:
                        ZoeGeluRecomputeMlp.from_timm(block.mlp)
        for stage in self.model.layers:
            for block in stage.blocks:
                if hasattr(block.attn, 'fused_eval'):
                    block.attn.fused_eval = self.fused_eval
                if hasattr(block.attn, 'recompute_bias'):
                    block.attn.recompute_bias = bool(attn_recompute_bias)

    def _set_attention(self, attn_impl: str, bias_cache: str,
                       toeplitz_bias: bool) -> None:
        cls = swinv2_attention_class(attn_impl)
        if cls is None:
            return
        kwargs = {}
        params = inspect.signature(cls.from_timm).parameters
        if 'cache_bias' in params:
            kwargs['cache_bias'] = bias_cache
        if 'toeplitz_bias' in params:
            kwargs['toeplitz_bias'] = toeplitz_bias
        for stage in self.model.layers:
            for block in stage.blocks:
                block.attn = cls.from_timm(block.attn, **kwargs)
        share = getattr(cls, 'share_position_index', None)
        if share is not None:  # one int32 index per window size
            share(stage.blocks[i].attn for stage in self.model.layers
                  for i in range(len(stage.blocks)))

    def init_weights(self) -> None:
        """Initialise like timm (post-norms zeroed) unless ``init_cfg``."""
        if self.init_cfg is not None:
            super().init_weights()
        # Otherwise timm already initialised the weights in its constructor.

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (Tensor): Normalised images (B, 3, H, W) with (H, W) equal to
                ``img_size``.

        Returns:
            tuple[Tensor]: One (B, C_i, H/s_i, W/s_i) map per stage in
            ``out_indices``.
        """
        if x.dim() != 4 or tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(
                f'ZoeSwinV2 expects input (B, C, {self.img_size[0]}, '
                f'{self.img_size[1]}) (the SwinV2 core is fixed-size), got '
                f'{tuple(x.shape)}. Resize in the data preprocessor '
                '(ZoeDepthDataPreProcessor(size=...)) or build the backbone '
                'with a matching img_size.')
        x = self.model.patch_embed(x)
        fused = (self.fused_eval and not self.training
                 and fused_eval_enabled(x))
        outs = []
        for i, stage in enumerate(self.model.layers):
            # NHWC; merging of stage i happens in stage i+1
            x = self._run_stage(stage, x) if fused else stage(x)
            if i in self.out_indices:
                out = x.permute(0, 3, 1, 2)  # a channels-last view
                outs.append(out if fused else out.contiguous())
        return tuple(outs)

    @staticmethod
    def _run_stage(stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """A timm stage in eval mode through ``block_forward_eval``."""
        x = downsample_eval(stage.downsample, x)
        for block in stage.blocks:
            if block_eval_applies(block, x):
                x = block_forward_eval(block, x)
            else:
                x = block(x)
        return x
