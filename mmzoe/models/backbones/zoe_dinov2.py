"""DINOv2 ViT encoder of the Depth Anything cores, built from timm 1.x."""
import math
from typing import List, Optional, Sequence, Tuple

import timm
import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import Tensor

from mmzoe.registry import MODELS

# Short names of the Depth Anything encoders -> timm 1.x model names.
DINOV2_ARCHS = {
    'vits': 'vit_small_patch14_dinov2',
    'vitb': 'vit_base_patch14_dinov2',
    'vitl': 'vit_large_patch14_dinov2',
}

# Blocks whose (normalised) outputs Depth Anything V2's DPT head reads. V1
# takes the last four blocks instead (give ``out_indices`` explicitly).
DA_V2_OUT_INDICES = {
    'vit_small_patch14_dinov2': (2, 5, 8, 11),
    'vit_base_patch14_dinov2': (2, 5, 8, 11),
    'vit_large_patch14_dinov2': (4, 11, 17, 23),
}


@MODELS.register_module()
class ZoeDINOv2(BaseModule):
    """DINOv2 ViT/14 giving four ``(patch_map, cls_token)`` levels.

    The encoder of Depth Anything (V1 and V2): a timm 1.x DINOv2 ViT
    (randomly initialised, never downloaded) run the way the DINOv2 code
    that Depth Anything ships runs it:

    * the image is cut into 14×14 patches by the patch-embedding
      convolution (a remainder of fewer than 14 rows/columns is dropped);
    * the learned position embedding (a square grid, 37×37 for a 518-pixel
      training size) is resampled to the patch grid with **bicubic**
      interpolation given as *scale factors* ``(g + offset) / sqrt(N)``
      (``offset`` 0.1, no antialiasing) — not as a target size, which is
      what timm's own dynamic-size resampling does and which gives other
      values. It is used unresampled when the grid has ``N`` patches and the
      image is square (upstream's shortcut);
    * the outputs of the blocks in ``out_indices`` go through the final
      LayerNorm; each gives the patch tokens as a (B, C, gh, gw) map and the
      class token (B, C).

    The DINOv2 ``mask_token`` (used only by DINOv2's masked pre-training)
    does not exist here; the checkpoint converters drop it by name.

    Args:
        arch (str): ``'vits'``, ``'vitb'``, ``'vitl'`` or a timm model name.
            Defaults to ``'vitl'``.
        out_indices (Sequence[int], optional): Blocks to return (0-based).
            Defaults to Depth Anything V2's choice for the arch (S/B: 2, 5,
            8, 11; L: 4, 11, 17, 23). Depth Anything V1 uses the last four
            blocks (S/B: 8..11, L: 20..23).
        img_size (int): Size the position embedding grid was trained for.
            Defaults to 518 (DINOv2 / Depth Anything).
        interpolate_offset (float): Offset added to the grid size in the
            scale factors of the position-embedding resampling. Defaults to
            0.1 (DINOv2 without registers).
        interpolate_antialias (bool): Antialiasing in that resampling.
            Defaults to False.
        drop_path_rate (float): Stochastic depth (linear over blocks).
            Defaults to 0.
        with_cp (bool): Activation checkpointing of every block while
            training. Defaults to False.
        init_cfg (dict, optional): MMEngine init config.
        **kwargs: Passed to :func:`timm.create_model` (e.g. ``embed_dim``,
            ``depth``, ``num_heads`` for tiny test models).
    """

    def __init__(self,
                 arch: str = 'vitl',
                 out_indices: Optional[Sequence[int]] = None,
                 img_size: int = 518,
                 interpolate_offset: float = 0.1,
                 interpolate_antialias: bool = False,
                 drop_path_rate: float = 0.0,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if kwargs.pop('pretrained', False):
            raise ValueError(
                'ZoeDINOv2 never downloads weights (pretrained=True is not '
                'supported); convert a Depth Anything checkpoint with '
                'tools/model_converters/depth_anything_to_mmzoe.py.')
        model_name = DINOV2_ARCHS.get(arch, arch)
        self.model = timm.create_model(
            model_name,
            pretrained=False,
            num_classes=0,
            img_size=img_size,
            drop_path_rate=drop_path_rate,
            **kwargs)
        if getattr(self.model, 'num_prefix_tokens', 1) != 1 or \
                getattr(self.model, 'no_embed_class', False):
            raise ValueError(
                f'ZoeDINOv2: {model_name} must have exactly one class token '
                'with a position embedding (no register tokens).')
        depth = len(self.model.blocks)
        if out_indices is None:
            if model_name not in DA_V2_OUT_INDICES or 'depth' in kwargs:
                raise ValueError(
                    f'ZoeDINOv2: give out_indices for {model_name} '
                    f'({depth} blocks).')
            out_indices = DA_V2_OUT_INDICES[model_name]
        self.out_indices = tuple(int(i) for i in out_indices)
        if len(self.out_indices) != 4 or sorted(set(self.out_indices)) != \
                list(self.out_indices) or not all(
                    0 <= i < depth for i in self.out_indices):
            raise ValueError(
                'ZoeDINOv2: out_indices must be 4 increasing block indices '
                f'in [0, {depth}), got {list(out_indices)}.')
        self.patch_size = int(self.model.patch_embed.patch_size[0])
        self.embed_dim = int(self.model.embed_dim)
        self.interpolate_offset = float(interpolate_offset)
        self.interpolate_antialias = bool(interpolate_antialias)
        self.with_cp = bool(with_cp)
        self.out_channels = [self.embed_dim] * 4

    def pos_embed_for(self, height: int, width: int) -> Tensor:
        """Position embedding (1, 1 + gh * gw, C) for an image size.

        Args:
            height (int): Image height in pixels.
            width (int): Image width in pixels.

        Returns:
            Tensor: Class-token embedding followed by the resampled grid.
        """
        pos_embed = self.model.pos_embed
        n = pos_embed.shape[1] - 1
        gh, gw = height // self.patch_size, width // self.patch_size
        if gh * gw == n and height == width:
            return pos_embed
        dtype = pos_embed.dtype
        pos_embed = pos_embed.float()
        side = math.sqrt(n)
        grid = pos_embed[:, 1:].reshape(1, int(side), int(side), -1)
        grid = F.interpolate(
            grid.permute(0, 3, 1, 2),
            scale_factor=((gh + self.interpolate_offset) / side,
                          (gw + self.interpolate_offset) / side),
            mode='bicubic',
            antialias=self.interpolate_antialias)
        if tuple(grid.shape[-2:]) != (gh, gw):
            raise RuntimeError(
                f'ZoeDINOv2: resampled position grid {tuple(grid.shape[-2:])}'
                f' != patch grid {(gh, gw)}.')
        grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
        return torch.cat((pos_embed[:, :1], grid), dim=1).to(dtype)

    def forward(self, x: Tensor) -> Tuple[Tuple[Tensor, Tensor], ...]:
        """Forward.

        Args:
            x (Tensor): (B, 3, H, W) normalised images, H and W >= 14
                (multiples of 14 use every pixel).

        Returns:
            tuple: Four pairs ``(patch_map, cls_token)``, ``patch_map``
            (B, C, H // 14, W // 14) and ``cls_token`` (B, C), after the
            final norm.
        """
        b, _, h, w = x.shape
        gh, gw = h // self.patch_size, w // self.patch_size
        if gh == 0 or gw == 0:
            raise ValueError(
                f'ZoeDINOv2: input {h}x{w} is smaller than one '
                f'{self.patch_size}-pixel patch.')
        vit = self.model
        tokens = vit.patch_embed.proj(x).flatten(2).transpose(1, 2)
        tokens = vit.patch_embed.norm(tokens)
        tokens = torch.cat((vit.cls_token.expand(b, -1, -1), tokens), dim=1)
        tokens = vit.pos_drop(tokens + self.pos_embed_for(h, w))
        tokens = vit.norm_pre(tokens)
        outs: List[Tuple[Tensor, Tensor]] = []
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for i, block in enumerate(vit.blocks):
            if use_cp:
                tokens = cp.checkpoint(block, tokens, use_reentrant=False)
            else:
                tokens = block(tokens)
            if i in self.out_indices:
                normed = vit.norm(tokens)
                patch_map = normed[:, 1:].transpose(1, 2).reshape(
                    b, -1, gh, gw)
                outs.append((patch_map, normed[:, 0]))
            if i == self.out_indices[-1]:
                break
        return tuple(outs)
