"""Relative-position biases of a window as strided copies of their table.

SwinV2 and BEiT give every pair of tokens ``i = (yi, xi)``, ``j = (yj, xj)``
of a ``(gh, gw)`` window the bias ``table[h, (yi - yj + gh - 1) * (2gw - 1) +
(xi - xj + gw - 1)]``: timm builds the ``(N, N)`` index of that offset
(``relative_position_index``, ``N = gh * gw``) and gathers the table through
it (``index_select``), and autograd's gradient of the gather is a serial
``index_add_`` over all ``h * N²`` entries (SwinV2-B at 384²: 39 ms per block
and training step on one core).

The bias only depends on the offset ``(yi - yj, xi - xj)``: viewed as
``(h, 2gh-1, 2gw-1)`` the table's windows hold whole rows of it.

* With the queries **or** the keys in reversed window order the
  ``(h, gh, gw, gh, gw)`` bias is one ``unfold`` view of the (flipped)
  table (BEiT's ``toeplitz_bias``).
* In the input order of both, the offset falls with ``j`` and rises with
  ``i``, which no strided view expresses: :func:`toeplitz_bias` first builds
  the small ``(h, 2gh-1, gw, gw)`` bias of every row offset (one x-Toeplitz
  block per ``yi - yj``), then copies the query rows ``yi`` out of it, one
  contiguous slice per ``yi`` (``gh`` copies, runs of ``gw`` values).
* :func:`toeplitz_table_grad` is the adjoint of those copies: ``gh`` adds of
  the gradient's query rows into the small per-row-offset tensor, then
  ``gw`` adds of its columns into the table. Every gradient entry is read
  once, in runs of ``gw`` values; the sums are those of ``index_add_`` in
  another order.

:func:`is_toeplitz_index` tells whether an index is that formula (anything
else keeps the gather).
"""
from typing import Optional, Tuple

import torch

Grid = Tuple[int, int]

# The token orders :func:`toeplitz_bias` writes.
TOEPLITZ_ORDERS = ('natural', 'reversed_queries', 'reversed_keys')


def toeplitz_index(grid: Grid,
                   device: Optional[torch.device] = None) -> torch.Tensor:
    """The relative-position index of a window (timm's formula).

    Args:
        grid (tuple[int, int]): Window ``(gh, gw)``.
        device (torch.device, optional): Device of the result.

    Returns:
        Tensor: (gh*gw, gh*gw) int64 with entry ``[i, j]`` equal to
        ``(yi - yj + gh - 1) * (2gw - 1) + xi - xj + gw - 1``.
    """
    gh, gw = grid
    ys = torch.arange(gh, device=device).repeat_interleave(gw)
    xs = torch.arange(gw, device=device).repeat(gh)
    dy = ys[:, None] - ys[None, :] + gh - 1
    dx = xs[:, None] - xs[None, :] + gw - 1
    return dy * (2 * gw - 1) + dx


def is_toeplitz_index(index: torch.Tensor, grid: Grid) -> bool:
    """Whether ``index`` is :func:`toeplitz_index` of ``grid``.

    Args:
        index (Tensor): (N, N) integer index (any integer dtype).
        grid (tuple[int, int]): Window ``(gh, gw)``.

    Returns:
        bool: True when shape and every entry match.
    """
    gh, gw = (int(s) for s in grid)
    n = gh * gw
    if gh < 1 or gw < 1 or tuple(index.shape) != (n, n):
        return False
    if index.dtype.is_floating_point or index.dtype.is_complex:
        return False
    return torch.equal(index.long(), toeplitz_index((gh, gw), index.device))


def _table_3d(table: torch.Tensor, grid: Grid) -> torch.Tensor:
    gh, gw = grid
    if table.dim() == 2:
        if table.shape[1] != (2 * gh - 1) * (2 * gw - 1):
            raise ValueError(
                f'A ({table.shape[0]}, {table.shape[1]}) table does not hold '
                f'the (2*{gh}-1)*(2*{gw}-1) offsets of a {gh}x{gw} window.')
        table = table.reshape(table.shape[0], 2 * gh - 1, 2 * gw - 1)
    if tuple(table.shape[1:]) != (2 * gh - 1, 2 * gw - 1):
        raise ValueError(f'A table of shape {tuple(table.shape)} does not '
                         f'hold the offsets of a {gh}x{gw} window.')
    return table


def toeplitz_bias(table: torch.Tensor,
                  grid: Grid,
                  order: str = 'natural',
                  out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The (h, gh, gw, gh, gw) relative-position bias of a window, copied
    from its table without an index.

    In the ``'natural'`` order ``bias[h, yi, xi, yj, xj] = table[h, yi - yj +
    gh - 1, xi - xj + gw - 1]`` (``table[:, index]`` for timm's index). With
    ``'reversed_queries'`` the queries are in reversed window order
    (``yi -> gh-1-yi``, ``xi -> gw-1-xi``), with ``'reversed_keys'`` the
    keys; those two are strided views of the table (copied into ``out``).

    Args:
        table (Tensor): (h, (2gh-1)*(2gw-1)) or (h, 2gh-1, 2gw-1).
        grid (tuple[int, int]): Window ``(gh, gw)``.
        order (str): One of :data:`TOEPLITZ_ORDERS`. Defaults to
            ``'natural'``.
        out (Tensor, optional): (h, gh, gw, gh, gw) destination (any
            strides, e.g. a view into a larger bias). Defaults to a new
            contiguous tensor.

    Returns:
        Tensor: ``out`` (or the new tensor); reshape a new one to
        (h, N, N) with ``view``.
    """
    gh, gw = (int(s) for s in grid)
    table = _table_3d(table, (gh, gw))
    heads = table.shape[0]
    if out is None:
        out = table.new_empty(heads, gh, gw, gh, gw)
    elif tuple(out.shape) != (heads, gh, gw, gh, gw):
        raise ValueError(f'out has shape {tuple(out.shape)}, expected '
                         f'{(heads, gh, gw, gh, gw)}.')
    if order == 'reversed_keys':
        # row (yi, xi) over keys (gh-1-yj, gw-1-xj): table[yi + a, xi + b]
        return out.copy_(table.unfold(1, gh, 1).unfold(2, gw, 1))
    if order == 'reversed_queries':
        # flipped[p, q] = table[2gh-2-p, 2gw-2-q]; reversed query (p, q)
        # over keys (yj, xj) is flipped[p + yj, q + xj]
        return out.copy_(table.flip(1, 2).unfold(1, gh, 1).unfold(2, gw, 1))
    if order != 'natural':
        raise ValueError(f'order must be one of {TOEPLITZ_ORDERS}, got '
                         f'{order!r}.')
    # rows[h, xi, p, xj] = table[h, 2gh-2-p, xi - xj + gw - 1]: the
    # x-Toeplitz block of row offset yi - yj = gh-1-p (small: (2gh-1)/gh² of
    # the bias)
    rows = table.unfold(2, gw, 1).flip(1, 3).transpose(1, 2).contiguous()
    for yi in range(gh):
        # p = gh-1-yi+yj for yj = 0..gh-1: a slice whose (yj, xj) are one
        # contiguous run of gh*gw values, as in the bias row
        out[:, yi].copy_(rows[:, :, gh - 1 - yi:2 * gh - 1 - yi])
    return out


def toeplitz_table_grad(grad: torch.Tensor, grid: Grid) -> torch.Tensor:
    """The table gradient of the ``'natural'`` :func:`toeplitz_bias`: the
    sums of ``grad`` over the token pairs of every offset (what
    ``zeros(h, T).index_add_(1, index.view(-1), grad.view(h, -1))`` gives,
    summed in another order).

    Args:
        grad (Tensor): (h, N, N), (1, h, N, N) or (h, gh, gw, gh, gw)
            gradient of the bias.
        grid (tuple[int, int]): Window ``(gh, gw)``.

    Returns:
        Tensor: (h, (2gh-1)*(2gw-1)) in ``grad``'s dtype, contiguous.
    """
    gh, gw = (int(s) for s in grid)
    n = gh * gw
    if grad.numel() % (n * n):
        raise ValueError(f'A gradient of shape {tuple(grad.shape)} is not '
                         f'(h, {n}, {n}) for a {gh}x{gw} window.')
    heads = grad.numel() // (n * n)
    grad5 = grad.reshape(heads, gh, gw, gh, gw)
    # rows[h, xi, p, xj]: sum over yi - yj = gh-1-p (adjoint of the copies)
    rows = grad.new_zeros(heads, gw, 2 * gh - 1, gw)
    for yi in range(gh):
        rows[:, :, gh - 1 - yi:2 * gh - 1 - yi].add_(grad5[:, yi])
    # flipped[h, p, q]: sum over xj - xi = q - (gw-1)
    flipped = grad.new_zeros(heads, 2 * gh - 1, 2 * gw - 1)
    for xi in range(gw):
        flipped[:, :, gw - 1 - xi:2 * gw - 1 - xi].add_(rows[:, xi])
    return flipped.flip(1, 2).reshape(heads, -1)


class _ToeplitzGather(torch.autograd.Function):
    """:func:`toeplitz_bias` (natural order) with
    :func:`toeplitz_table_grad` as its backward pass."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, grid: Grid) -> torch.Tensor:
        ctx.grid = grid
        n = grid[0] * grid[1]
        return toeplitz_bias(table.detach(), grid).view(table.shape[0], n, n)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        return toeplitz_table_grad(grad, ctx.grid), None


def toeplitz_gather(table: torch.Tensor, grid: Grid) -> torch.Tensor:
    """``table[:, index].view(h, N, N)`` for timm's index of ``grid``, by
    :func:`toeplitz_bias`; differentiable, the table gradient by
    :func:`toeplitz_table_grad`.

    Args:
        table (Tensor): (h, (2gh-1)*(2gw-1)).
        grid (tuple[int, int]): Window ``(gh, gw)``.

    Returns:
        Tensor: (h, N, N), N = gh*gw.
    """
    grid = (int(grid[0]), int(grid[1]))
    _table_3d(table, grid)  # shape check before autograd records anything
    if torch.is_grad_enabled() and table.requires_grad:
        return _ToeplitzGather.apply(table, grid)
    n = grid[0] * grid[1]
    return toeplitz_bias(table, grid).view(table.shape[0], n, n)
