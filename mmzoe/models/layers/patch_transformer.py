"""Domain router of ZoeDepth-NK: a small transformer on the bottleneck.

ZoeD_M12_NK has one metric head per training domain (NYU: indoor, 10 m;
KITTI: outdoor, 80 m). Which head runs is decided from the bottleneck
features: a PxP convolution turns them into a sequence of tokens, a zero
"class" token is put in front, a fixed sinusoidal position code is added, a
4-layer post-norm ``nn.TransformerEncoder`` (sequence-first) mixes them, and
an MLP on the output of the class token gives one logit per domain.

Sub-module names equal upstream ZoeDepth's ``patch_transformer`` /
``mlp_classifier`` so its keys map 1:1 (``docs/zoedepth_nk.md``).
"""
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmzoe.registry import MODELS


def sinusoidal_position_code(length: int, dim: int,
                             device: torch.device = None) -> Tensor:
    """Fixed 1-D position code of ZoeDepth's patch transformer.

    For position ``p`` and frequency index ``j = 0 .. dim/2 - 1`` with
    ``w_j = 10000 ** (-2j / dim)``, the code is the concatenation (not the
    interleaving) ``[sin(p * w_0), ..., sin(p * w_{dim/2-1}),
    cos(p * w_0), ..., cos(p * w_{dim/2-1})]``.

    Args:
        length (int): Sequence length.
        dim (int): Embedding width (even).
        device (torch.device, optional): Device of the result.

    Returns:
        Tensor: (length, dim) float32 code.
    """
    if dim % 2:
        raise ValueError(f'the embedding width must be even, got {dim}')
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    two_j = torch.arange(0, dim, 2, dtype=torch.float32, device=device)
    freq = torch.exp(two_j * (-math.log(10000.0) / dim))[None, :]
    angle = pos * freq
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


@MODELS.register_module()
class ZoePatchTransformerEncoder(nn.Module):
    """Tokens from a feature map, mixed by a post-norm transformer encoder.

    Args:
        in_channels (int): Channels of the feature map.
        patch_size (int): Side of the (non-overlapping) token patches.
            Defaults to 10 (ZoeDepth-NK uses 1).
        embedding_dim (int): Token width. Defaults to 128.
        num_heads (int): Attention heads. Defaults to 4.
        num_layers (int): Encoder layers. Defaults to 4.
        feedforward_dim (int): Hidden width of each layer's MLP.
            Defaults to 1024.
        dropout (float): Dropout of the encoder layers (training only).
            Defaults to 0.1 (torch's default, as upstream).
        use_class_token (bool): Put a zero token in front of the sequence.
            Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 patch_size: int = 10,
                 embedding_dim: int = 128,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 feedforward_dim: int = 1024,
                 dropout: float = 0.1,
                 use_class_token: bool = False) -> None:
        super().__init__()
        self.use_class_token = bool(use_class_token)
        self.embedding_dim = embedding_dim
        layer = nn.TransformerEncoderLayer(
            embedding_dim, num_heads, dim_feedforward=feedforward_dim,
            dropout=dropout)
        # the nested-tensor fast path needs batch_first; sequence-first here
        self.transformer_encoder = nn.TransformerEncoder(
            layer, num_layers=num_layers, enable_nested_tensor=False)
        self.embedding_convPxP = nn.Conv2d(
            in_channels, embedding_dim, kernel_size=patch_size,
            stride=patch_size, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a feature map.

        Args:
            x (Tensor): (B, in_channels, H, W).

        Returns:
            Tensor: (S, B, embedding_dim) token outputs, S = number of
            patches (+1 with the class token, which comes first).
        """
        tokens = self.embedding_convPxP(x).flatten(2)  # B, E, S
        if self.use_class_token:
            tokens = F.pad(tokens, (1, 0))
        tokens = tokens.permute(2, 0, 1)  # S, B, E
        code = sinusoidal_position_code(tokens.shape[0], tokens.shape[2],
                                        tokens.device)
        tokens = tokens + code[:, None, :].to(tokens.dtype)
        return self.transformer_encoder(tokens)


@MODELS.register_module()
class ZoePatchTransformerRouter(nn.Module):
    """Domain logits from the bottleneck: patch transformer + MLP.

    ``patch_transformer`` (:class:`ZoePatchTransformerEncoder` with a class
    token) encodes the features; ``mlp_classifier`` = Linear(E, hidden),
    ReLU, Linear(hidden, num_domains) maps the class token's output to one
    logit per domain.

    Args:
        in_channels (int): Bottleneck channels.
        num_domains (int): Number of metric heads. Defaults to 2.
        patch_size (int): Token patch side. Defaults to 1.
        embedding_dim (int): Token width. Defaults to 128.
        num_heads (int): Attention heads. Defaults to 4.
        num_layers (int): Encoder layers. Defaults to 4.
        feedforward_dim (int): Encoder MLP width. Defaults to 1024.
        hidden_dim (int): Classifier hidden width. Defaults to 128.
        dropout (float): Encoder dropout (training). Defaults to 0.1.
    """

    def __init__(self,
                 in_channels: int,
                 num_domains: int = 2,
                 patch_size: int = 1,
                 embedding_dim: int = 128,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 feedforward_dim: int = 1024,
                 hidden_dim: int = 128,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_domains < 1:
            raise ValueError(f'num_domains must be >= 1, got {num_domains}')
        self.num_domains = num_domains
        self.patch_transformer = ZoePatchTransformerEncoder(
            in_channels, patch_size=patch_size, embedding_dim=embedding_dim,
            num_heads=num_heads, num_layers=num_layers,
            feedforward_dim=feedforward_dim, dropout=dropout,
            use_class_token=True)
        self.mlp_classifier = nn.Sequential(
            nn.Linear(embedding_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, num_domains))

    def forward(self, x: Tensor) -> Tensor:
        """Domain logits (B, num_domains) of bottleneck features x."""
        return self.mlp_classifier(self.patch_transformer(x)[0])

    @staticmethod
    def vote(logits: Tensor, per_image: bool = True) -> Tuple[Tensor, Tensor]:
        """Pick a domain from the logits.

        Args:
            logits (Tensor): (B, num_domains).
            per_image (bool): One pick per image (argmax of its logits).
                False: one pick for the whole batch, the argmax of the
                softmax of the logits summed over the batch (upstream
                ZoeDepth-NK, which assumes single-domain batches).
                Defaults to True.

        Returns:
            tuple[Tensor, Tensor]: Picked domain index per image (B,) long,
            and the probabilities used for the pick ((B, D) or (1, D)).
        """
        if per_image:
            probs = torch.softmax(logits, dim=-1)
        else:
            probs = torch.softmax(logits.sum(dim=0, keepdim=True), dim=-1)
        pick = probs.argmax(dim=-1)
        if not per_image:
            pick = pick.expand(logits.shape[0])
        return pick, probs
