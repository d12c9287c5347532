"""BEiT self-attention for any token grid, as the MiDaS v3.1 BEiT cores use it.

timm's BEiT attention holds a relative-position-bias table for one window (the
pretraining grid, 24x24 for ``beit_large_patch16_384``) and refuses other
grids. MiDaS v3.1 runs its BEiT cores on other input sizes (ZoeDepth feeds
384x512, i.e. a 24x32 grid) by rebuilding the bias for the grid of every
forward pass:

1. the table without its last three rows (the class-token rows) is viewed as a
   ``(2*Ww-1, 2*Wh-1)`` map per head (MiDaS puts the window *width* first;
   identical for the square tables of the released cores);
2. that map is resized bilinearly (``align_corners=False``) to
   ``(2*gh-1, 2*gw-1)`` for the current ``(gh, gw)`` grid, flattened, and the
   three class-token rows are appended unchanged;
3. the bias is gathered with timm's ``gen_relative_position_index((gh, gw))``.

:class:`ZoeBEiTAttention` does the same, then runs the attention through
``scaled_dot_product_attention`` with the bias as additive mask (the fused
CPU kernel; on CPU with a trainable bias the custom backward of
``swinv2_fused_attention`` is used, so training does not fall back to the
unfused math path). ``fused=False`` gives the explicit
``softmax(q kᵀ·scale + bias) v`` of timm / MiDaS. In eval mode without
gradients the resized, transposed table and the index of each grid are cached
(keyed on the table's identity and version counter, so weight loads and
optimiser steps invalidate them; ``eval()`` keeps them, ``train()`` drops
them); the (heads, N, N) bias itself is gathered
in every call (one gather, small next to the attention itself, and no
~20 MB-per-block cache).

With ``toeplitz_bias=True`` (fused path) the (heads, N, N) bias is not
gathered through the index but copied from a strided view of the resized
table: the patch-to-patch bias only depends on the offset
``(yi - yj, xi - xj)``, so with the *queries* in reversed patch order the row
of query ``(p, q)`` is the window ``[p:p+gh, q:q+gw]`` of the table flipped in
both axes, and every row is one ``unfold`` view of that small table (a copy
with contiguous runs of ``gw`` values instead of a gather through a
``(N+1)²`` index). The queries are put in that order before the attention and
the outputs back in the input order; the class-token rows and column are
filled from the last three table rows as before. The query scale is passed to
``scaled_dot_product_attention`` instead of multiplying the queries (exact
for the power-of-two scales of head widths 16, 64, 256).

Parameter and buffer names are timm's (``qkv``, ``q_bias``, ``v_bias``,
``relative_position_bias_table``, ``proj``; ``k_bias`` and
``relative_position_index`` non-persistent), so checkpoints load unchanged.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from timm.models.beit import Attention, gen_relative_position_index

from ..utils.dispatch import plain_ops_required
from ..utils.toeplitz_bias import toeplitz_bias
from .swinv2_fused_attention import _attention, _use_custom_backward

Grid = Tuple[int, int]


def resize_rel_pos_table(table: torch.Tensor, window_size: Grid,
                         grid: Grid) -> torch.Tensor:
    """Resize a BEiT relative-position-bias table to another grid, as MiDaS.

    Args:
        table (Tensor): ``((2*Wh-1)*(2*Ww-1) + 3, heads)`` table of the window
            ``window_size``.
        window_size (tuple[int, int]): ``(Wh, Ww)`` the table was made for.
        grid (tuple[int, int]): Target token grid ``(gh, gw)``.

    Returns:
        Tensor: ``((2*gh-1)*(2*gw-1) + 3, heads)``; ``table`` itself when the
        grid equals the window (the bilinear resize is then the identity).
    """
    if tuple(grid) == tuple(window_size):
        return table
    old_h, old_w = 2 * window_size[0] - 1, 2 * window_size[1] - 1
    new_h, new_w = 2 * grid[0] - 1, 2 * grid[1] - 1
    heads = table.shape[-1]
    body, cls_rows = table[:-3], table[-3:]
    # (width, height) order as MiDaS' _get_rel_pos_bias
    body = body.reshape(1, old_w, old_h, heads).permute(0, 3, 1, 2)
    body = F.interpolate(body, size=(new_h, new_w), mode='bilinear')
    body = body.permute(0, 2, 3, 1).reshape(new_h * new_w, heads)
    return torch.cat([body, cls_rows])


class ZoeBEiTAttention(Attention):
    """timm BEiT attention taking the token grid of the current input.

    Build it from a timm module with :meth:`from_timm`.

    Args:
        *args: timm ``beit.Attention`` positional arguments.
        fused (bool): Use ``scaled_dot_product_attention``. Defaults to True.
        cache_bias (bool): Cache the per-grid resized table and index in eval
            mode without gradients. Defaults to True.
        toeplitz_bias (bool): Build the bias by a strided copy of the table,
            queries in reversed patch order (fused path only; see the module
            docstring). Defaults to False (the index gather).
        **kwargs: timm ``beit.Attention`` keyword arguments.
    """

    def __init__(self,
                 *args,
                 fused: bool = True,
                 cache_bias: bool = True,
                 toeplitz_bias: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fused = bool(fused)
        self.cache_bias = bool(cache_bias)
        self.toeplitz_bias = bool(toeplitz_bias)
        self._index_cache: Dict[tuple, torch.Tensor] = {}
        self._order_cache: Dict[tuple, torch.Tensor] = {}
        self._table_cache: Optional[Tuple[tuple, torch.Tensor]] = None

    @classmethod
    def from_timm(cls,
                  attn: Attention,
                  fused: bool = True,
                  cache_bias: bool = True,
                  toeplitz_bias: bool = False) -> 'ZoeBEiTAttention':
        """Build from a timm ``beit.Attention``, copying its state.

        Args:
            attn (Attention): The module to replace.
            fused (bool): See the class docstring.
            cache_bias (bool): See the class docstring.
            toeplitz_bias (bool): See the class docstring.

        Returns:
            ZoeBEiTAttention: Same parameters, buffers and train/eval mode.
        """
        if not isinstance(attn, Attention):
            raise TypeError('ZoeBEiTAttention.from_timm expects a timm '
                            f'beit.Attention, got {type(attn).__name__}.')
        ref = attn.proj.weight
        dim = attn.proj.out_features
        head_dim = attn.qkv.out_features // 3 // attn.num_heads
        new = cls(
            dim,
            num_heads=attn.num_heads,
            qkv_bias=attn.q_bias is not None,
            qkv_bias_separate=attn.qkv_bias_separate,
            attn_drop=attn.attn_drop.p,
            proj_drop=attn.proj_drop.p,
            window_size=(None if attn.window_size is None else tuple(
                attn.window_size)),
            attn_head_dim=head_dim,
            device=ref.device,
            dtype=ref.dtype,
            fused=fused,
            cache_bias=cache_bias,
            toeplitz_bias=toeplitz_bias)
        new.load_state_dict(attn.state_dict())
        if attn.k_bias is not None:
            new.k_bias.copy_(attn.k_bias)
        for name, param in attn.named_parameters():
            new.get_parameter(name).requires_grad_(param.requires_grad)
        new.train(attn.training)
        return new

    def train(self, mode: bool = True) -> 'ZoeBEiTAttention':
        """Set the mode; entering training mode drops the cached table.

        ``eval()`` keeps it (``inference_depth`` calls ``model.eval()`` on
        every image): the cache key holds the table's identity, version
        counter and storage, so a weight load or optimiser step in between
        still invalidates it.
        """
        if mode:
            self._table_cache = None
        return super().train(mode)

    def _index(self, grid: Grid, device: torch.device) -> torch.Tensor:
        if tuple(grid) == tuple(self.window_size):
            return self.relative_position_index
        key = (tuple(grid), device)
        index = self._index_cache.get(key)
        if index is None:
            index = gen_relative_position_index(tuple(grid)).to(device)
            self._index_cache[key] = index
        return index

    def _can_cache(self) -> bool:
        if not self.cache_bias or self.training or plain_ops_required():
            return False
        return not (torch.is_grad_enabled()
                    and self.relative_position_bias_table.requires_grad)

    def _table_t(self, grid: Grid) -> torch.Tensor:
        """The resized table as (heads, T) (cached when allowed)."""
        table = self.relative_position_bias_table
        if self._can_cache():
            try:
                key = (tuple(grid), id(table), table._version,
                       table.data_ptr(), table.device, table.dtype)
            except RuntimeError:  # inference tensors have no version counter
                key = None
            if key is not None and self._table_cache is not None and \
                    self._table_cache[0] == key:
                return self._table_cache[1]
            with torch.no_grad():
                out = resize_rel_pos_table(table, self.window_size,
                                           grid).t().contiguous()
            if key is not None:
                self._table_cache = (key, out)
            return out
        return resize_rel_pos_table(table, self.window_size,
                                    grid).t().contiguous()

    def rel_pos_bias(self, grid: Grid) -> torch.Tensor:
        """The relative position bias of ``grid``.

        Args:
            grid (tuple[int, int]): Token grid ``(gh, gw)`` (patches only).

        Returns:
            Tensor: (1, heads, gh*gw + 1, gh*gw + 1).
        """
        n = grid[0] * grid[1] + 1
        table_t = self._table_t(grid)
        index = self._index(grid, table_t.device)
        # gather along the last axis of the (heads, T) table: the
        # (heads, N, N) layout directly, the same values as timm's
        # gather + permute
        return table_t.index_select(1, index.view(-1)).view(
            1, self.num_heads, n, n)

    def _reversed_order(self, num_patches: int,
                        device: torch.device) -> torch.Tensor:
        """Token order ``[cls, patch N-1, ..., patch 0]`` (its own
        inverse)."""
        key = (num_patches, device)
        order = self._order_cache.get(key)
        if order is None:
            order = torch.cat((torch.zeros(1, dtype=torch.long),
                               torch.arange(num_patches, 0, -1))).to(device)
            self._order_cache[key] = order
        return order

    def project_qkv(self, x: torch.Tensor, grid: Grid) -> torch.Tensor:
        """The (B, N, 3 * inner) query/key/value projection of ``x``, after
        checking that its N tokens are the class token and ``grid``.

        Args:
            x (Tensor): (B, 1 + gh*gw, C) tokens.
            grid (tuple[int, int]): ``(gh, gw)``.

        Returns:
            Tensor: (B, N, 3 * inner).
        """
        n = x.shape[1]
        if n != grid[0] * grid[1] + 1:
            raise ValueError(f'ZoeBEiTAttention: {n} tokens do not match '
                             f'the grid {tuple(grid)} plus a class token.')
        if self.q_bias is None:
            return self.qkv(x)
        qkv_bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        if self.qkv_bias_separate:
            return self.qkv(x) + qkv_bias
        return F.linear(x, weight=self.qkv.weight, bias=qkv_bias)

    def toeplitz_rel_pos_bias(self, grid: Grid) -> torch.Tensor:
        """The relative position bias of ``grid`` for queries in reversed
        patch order (:meth:`_reversed_order`), keys in input order.

        Equals ``rel_pos_bias(grid)[:, :, order]`` without a gather.

        Args:
            grid (tuple[int, int]): Token grid ``(gh, gw)`` (patches only).

        Returns:
            Tensor: (1, heads, gh*gw + 1, gh*gw + 1).
        """
        # table_t[:, (dy + gh - 1) * (2gw - 1) + dx + gw - 1], dy = yi - yj:
        # flipped, the row of reversed query (p, q) = (gh-1-yi, gw-1-xi) is
        # flipped[:, p + yj, q + xj]
        return self._strided_bias(grid, flip=True)

    def toeplitz_key_bias(self, grid: Grid) -> torch.Tensor:
        """The relative position bias of ``grid`` for keys in reversed
        patch order (:meth:`_reversed_order`), queries in input order.

        Equals ``rel_pos_bias(grid)[..., order]`` without a gather or a flip:
        the row of query ``(yi, xi)`` over reversed keys ``(a, b)`` is the
        table's ``[yi + a, xi + b]`` (the eval path of ``beit_eval.py``).

        Args:
            grid (tuple[int, int]): Token grid ``(gh, gw)`` (patches only).

        Returns:
            Tensor: (1, heads, gh*gw + 1, gh*gw + 1).
        """
        return self._strided_bias(grid, flip=False)

    def _strided_bias(self, grid: Grid, flip: bool) -> torch.Tensor:
        """The (1, heads, n, n) bias whose patch block is one strided copy
        of the (flipped, for reversed queries) resized table's windows, and
        whose class-token row, column and corner are the table's last three
        entries (shared by :meth:`toeplitz_rel_pos_bias` and
        :meth:`toeplitz_key_bias`)."""
        gh, gw = grid
        heads, n = self.num_heads, gh * gw + 1
        table_t = self._table_t(grid)
        body = (2 * gh - 1) * (2 * gw - 1)
        bias = table_t.new_empty(1, heads, n, n)
        toeplitz_bias(table_t[:, :body], grid,
                      'reversed_queries' if flip else 'reversed_keys',
                      out=bias[0, :, 1:, 1:].view(heads, gh, gw, gh, gw))
        bias[0, :, 0, 1:] = table_t[:, body:body + 1]
        bias[0, :, 1:, 0] = table_t[:, body + 1:body + 2]
        bias[0, :, 0, 0] = table_t[:, body + 2]
        return bias

    def _toeplitz_attention(self, q: torch.Tensor, k: torch.Tensor,
                            v: torch.Tensor, grid: Grid,
                            dropout_p: float) -> torch.Tensor:
        """Fused attention with the strided-copy bias; (B, N+1, C) out."""
        b, _, n, _ = q.shape
        order = self._reversed_order(n - 1, q.device)
        bias = self.toeplitz_rel_pos_bias(grid).to(v.dtype)
        q = q.index_select(2, order)
        if _use_custom_backward(q, bias.requires_grad, dropout_p):
            out = _attention(q * self.scale, k, v, bias, dropout_p)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=dropout_p,
                scale=self.scale)
        return out.transpose(1, 2).index_select(1, order).reshape(b, n, -1)

    def forward(self,
                x: torch.Tensor,
                grid: Grid,
                shared_rel_pos_bias: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """Self-attention over the class token and a ``grid`` of patches.

        Args:
            x (Tensor): (B, 1 + gh*gw, C) tokens.
            grid (tuple[int, int]): ``(gh, gw)``.
            shared_rel_pos_bias (Tensor, optional): Extra additive bias.

        Returns:
            Tensor: (B, 1 + gh*gw, C).
        """
        b, n, c = x.shape
        qkv = self.project_qkv(x, grid)
        qkv = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        dropout_p = self.attn_drop.p if self.training else 0.0
        if (self.toeplitz_bias and self.fused and shared_rel_pos_bias is None
                and self.relative_position_bias_table is not None
                and not plain_ops_required()):
            out = self._toeplitz_attention(q, k, v, grid, dropout_p)
            return self.proj_drop(self.proj(out))
        bias = None
        if self.relative_position_bias_table is not None:
            bias = self.rel_pos_bias(grid)
        if shared_rel_pos_bias is not None:
            bias = (shared_rel_pos_bias if bias is None else bias +
                    shared_rel_pos_bias)
        q = q * self.scale
        if self.fused and bias is not None:
            out = _attention(q, k, v, bias.to(v.dtype), dropout_p)
        elif self.fused:
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=dropout_p, scale=1.0)
        else:
            attn = q @ k.transpose(-2, -1)
            if bias is not None:
                attn = attn + bias
            attn = self.attn_drop(attn.softmax(dim=-1))
            out = attn @ v
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.proj_drop(self.proj(out))

    def extra_repr(self) -> str:
        return (f'heads={self.num_heads}, window_size={self.window_size}, '
                f'fused={self.fused}, cache_bias={self.cache_bias}, '
                f'toeplitz_bias={self.toeplitz_bias}')
