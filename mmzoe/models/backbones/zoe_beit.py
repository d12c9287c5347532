"""BEiT encoder of the MiDaS v3.1 DPT BEiT cores, built from timm 1.x."""
from typing import List, Optional, Sequence, Tuple

import timm
import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from timm.models.beit import Beit

from mmzoe.registry import MODELS
from .beit_attention import ZoeBEiTAttention
from .beit_eval import block_eval_applies, block_forward_eval

ViTLevel = Tuple[torch.Tensor, torch.Tensor]


@MODELS.register_module()
class ZoeBEiT(BaseModule):
    """timm BEiT giving four hooked blocks as ``(patch_map, cls_token)``.

    What MiDaS v3.1's ``DPT_BEiT_L_384`` / ``DPT_BEiT_L_512`` cores take from
    their timm BEiT (``docs/architecture.md``):

    * the outputs of blocks ``out_indices`` (MiDaS: 5, 11, 17, 23 for BEiT-L),
      without the final norm (MiDaS computes it and discards it), split into
      the patch tokens as a (B, C, H/16, W/16) map and the class token (B, C);
      the DPT reassemble stage (``ZoeViTReassemble`` in the neck) turns them
      into the pyramid;
    * any input size whose sides are multiples of the patch size: the patch
      embedding runs without timm's fixed-size check, and every attention
      layer resizes its relative-position-bias table to the token grid of
      the input exactly as MiDaS does (``beit_attention.py``).

    The timm classifier (``fc_norm``, ``head``) and final ``norm`` are
    removed, as are blocks after the last hooked one.

    Args:
        arch (str): timm model name. Defaults to ``'beit_large_patch16_384'``
            (``beit_large_patch16_512`` for MiDaS BEiT-L-512).
        out_indices (Sequence[int]): Hooked blocks. Defaults to
            (5, 11, 17, 23).
        drop_path_rate (float): Stochastic depth, linear over the blocks.
            Defaults to 0.0 (timm's default, what MiDaS builds).
        attn_impl (str): ``'sdpa'`` (fused ``scaled_dot_product_attention``
            with the bias as mask) or ``'timm'`` (explicit softmax, the
            order of operations of MiDaS). Defaults to ``'sdpa'``.
        toeplitz_bias (bool): With ``attn_impl='sdpa'``, build each block's
            position bias by a strided copy of its resized table instead of
            an index gather (``beit_attention.py``; a speed switch, shipped
            on). Defaults to False.
        with_cp (bool): Activation checkpointing of every block while
            training. Defaults to False.
        fused_eval (bool): In eval mode without gradients (float32 CPU),
            run the blocks through ``beit_eval.py`` (layer scale and
            residual in one operation, keys instead of queries reordered for
            the strided-copy bias); the same function up to rounding. A
            speed switch, shipped on. Defaults to False.
        norm_eps (float, optional): Epsilon of every LayerNorm. Defaults to
            None (timm's 1e-6, as MiDaS; transformers' BEiT uses 1e-12).
        init_cfg (dict, optional): MMEngine init config. Defaults to None.
        **timm_kwargs: Passed to ``timm.create_model`` (``img_size``: the
            size the bias table is made for; ``embed_dim``, ``depth``,
            ``num_heads`` for small test models). ``pretrained`` is not
            accepted: weights come from converted local checkpoints.
    """

    def __init__(self,
                 arch: str = 'beit_large_patch16_384',
                 out_indices: Sequence[int] = (5, 11, 17, 23),
                 drop_path_rate: float = 0.0,
                 attn_impl: str = 'sdpa',
                 toeplitz_bias: bool = False,
                 with_cp: bool = False,
                 fused_eval: bool = False,
                 norm_eps: Optional[float] = None,
                 init_cfg: Optional[dict] = None,
                 **timm_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        for bad in ('pretrained', 'features_only', 'num_classes'):
            if bad in timm_kwargs:
                raise ValueError(
                    f'ZoeBEiT does not accept "{bad}" (weights come from a '
                    'converted local checkpoint; the classifier is removed).')
        if attn_impl not in ('sdpa', 'timm'):
            raise ValueError("ZoeBEiT: attn_impl must be 'sdpa' or 'timm', "
                             f'got {attn_impl!r}.')
        model = timm.create_model(
            arch,
            pretrained=False,
            num_classes=0,
            drop_path_rate=drop_path_rate,
            **timm_kwargs)
        if not isinstance(model, Beit):
            raise ValueError(f'ZoeBEiT: "{arch}" is not a timm BEiT model.')
        if model.pos_embed is not None or model.rel_pos_bias is not None:
            raise ValueError(
                f'ZoeBEiT: "{arch}" uses an absolute or a shared position '
                'embedding; only per-block relative position bias (the MiDaS '
                'BEiT cores) is supported.')
        depth = len(model.blocks)
        self.out_indices = tuple(int(i) for i in out_indices)
        if not self.out_indices or any(i < 0 or i >= depth
                                       for i in self.out_indices) or list(
                                           self.out_indices) != sorted(
                                               set(self.out_indices)):
            raise ValueError(f'out_indices {out_indices} must be increasing '
                             f'block indices below {depth}.')
        model.prune_intermediate_layers(
            list(self.out_indices), prune_norm=True, prune_head=True)
        for block in model.blocks:
            block.attn = ZoeBEiTAttention.from_timm(
                block.attn,
                fused=attn_impl == 'sdpa',
                toeplitz_bias=toeplitz_bias)
        if norm_eps is not None:
            for module in model.modules():
                if isinstance(module, nn.LayerNorm):
                    module.eps = float(norm_eps)
        self.model = model
        self.attn_impl = attn_impl
        self.toeplitz_bias = bool(toeplitz_bias)
        self.patch_size: Tuple[int, int] = tuple(
            model.patch_embed.patch_size)
        self.img_size: Tuple[int, int] = tuple(model.patch_embed.img_size)
        self.embed_dim = int(model.embed_dim)
        self.out_channels = tuple(self.embed_dim for _ in self.out_indices)
        self.with_cp = bool(with_cp)
        self.fused_eval = bool(fused_eval)

    def init_weights(self) -> None:
        """Keep timm's initialisation unless ``init_cfg`` is given."""
        if self.init_cfg is not None:
            super().init_weights()

    @staticmethod
    def _block(block: nn.Module, x: torch.Tensor,
               grid: Tuple[int, int]) -> torch.Tensor:
        """timm's BEiT block with the grid passed to its attention."""
        y = block.attn(block.norm1(x), grid)
        if block.gamma_1 is not None:
            y = block.gamma_1 * y
        x = x + block.drop_path1(y)
        y = block.mlp(block.norm2(x))
        if block.gamma_2 is not None:
            y = block.gamma_2 * y
        return x + block.drop_path2(y)

    def forward(self, x: torch.Tensor) -> Tuple[ViTLevel, ...]:
        """Forward.

        Args:
            x (Tensor): Normalised images (B, 3, H, W), H and W multiples of
                the patch size.

        Returns:
            tuple[tuple[Tensor, Tensor]]: Per hooked block
            ``(patch_map (B, C, H/p, W/p), cls_token (B, C))``.
        """
        if x.dim() != 4:
            raise ValueError(
                f'ZoeBEiT expects (B, C, H, W) input, got {tuple(x.shape)}.')
        h, w = x.shape[-2:]
        ph, pw = self.patch_size
        if h % ph or w % pw:
            raise ValueError(
                f'ZoeBEiT needs input sides that are multiples of the patch '
                f'size {self.patch_size}, got {h}x{w}. Resize in the data '
                'preprocessor (ZoeDepthDataPreProcessor(size=...)).')
        grid = (h // ph, w // pw)
        m = self.model
        x = m.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = m.patch_embed.norm(x)
        x = torch.cat((m.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = m.pos_drop(x)
        outs: List[ViTLevel] = []
        b = x.shape[0]
        for i, block in enumerate(m.blocks):
            if self.with_cp and self.training and torch.is_grad_enabled():
                x = cp.checkpoint(
                    self._block, block, x, grid, use_reentrant=False)
            elif self.fused_eval and block_eval_applies(block, x):
                x = block_forward_eval(block, x, grid)
            else:
                x = self._block(block, x, grid)
            if i in self.out_indices:
                patches = x[:, 1:].transpose(1, 2).reshape(
                    b, -1, grid[0], grid[1])
                outs.append((patches, x[:, 0]))
        return tuple(outs)
