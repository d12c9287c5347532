"""Random weights that exercise every SwinV2 block.

timm zero-initialises the post-norm weights of SwinV2 blocks, so a randomly
initialised SwinV2 block is an identity map and a random-weight comparison
(an equivalence test, a speed switch's tolerance, the benchmark's check of a
fast path against eager fp32) would not see the attention at all. Perturbing
the parameters as below makes each block non-trivial (docs/upstream_facts.md,
"Random SwinV2 weights").
"""
from typing import Optional

import torch
from torch import nn

_POST_NORMS = ('norm1.weight', 'norm2.weight')


def _is_block_post_norm(name: str) -> bool:
    # a SwinV2 block's own norm1/norm2 (the module may be the block itself)
    return name.endswith(_POST_NORMS) and ('.blocks.' in name
                                           or name.count('.') == 1)


def perturb_weights(module: nn.Module,
                    seed: int = 0,
                    attn_noise: Optional[float] = None) -> None:
    """Perturb ``module``'s parameters in place, reproducibly.

    The post-norm weights of SwinV2 blocks become ``1 + 0.1·noise``; every
    other parameter gets ``+ 0.02·noise`` (standard normal noise from a
    generator seeded with ``seed``, drawn parameter by parameter in
    ``named_parameters`` order).

    Args:
        module (nn.Module): A model, or a single SwinV2 block.
        seed (int): Noise seed. Defaults to 0.
        attn_noise (float, optional): If given, the continuous position bias
            MLP (``cpb_mlp``) and ``logit_scale`` get ``+ attn_noise·noise``
            instead, so that every term of the attention matters. Defaults
            to None.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=gen).to(param)
            if _is_block_post_norm(name):
                param.copy_(1 + 0.1 * noise)
            elif attn_noise is not None and ('cpb_mlp' in name
                                             or 'logit_scale' in name):
                param.add_(attn_noise * noise)
            else:
                param.add_(0.02 * noise)
