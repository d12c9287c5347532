"""When the fast paths step aside for the plain operators.

Several speed paths of this package run operators that something recording
or inspecting the model would not see or could not run: custom autograd
functions, NNPACK, oneDNN's fused eval kernels, caches of tensors built in an
earlier call, strided copies chosen by looking at an index's values. A
``torch.jit`` trace records a custom function as one opaque node (the FLOP
counters that trace miss its multiply-adds), ``torch.compile`` breaks its
graph there, and a ``TorchDispatchMode`` (torch's ``FlopCounterMode``, the
fake tensors of ``torch.export`` and of memory estimates) sees only the
operators that reach it, may hold tensors without data, and would put such
tensors into a cache. :func:`plain_ops_required` names those cases; each
fast path then runs the plain operators instead.
"""
import torch
from torch.utils._python_dispatch import is_in_torch_dispatch_mode


def plain_ops_required() -> bool:
    """Whether something records or inspects the operators run now: a
    ``torch.jit`` trace or script, ``torch.compile``, or any
    ``TorchDispatchMode`` (FLOP counters, fake tensors). The fused and the
    NNPACK paths then step aside for the plain operators.

    Returns:
        bool: True while one of those is active.
    """
    compiler = getattr(torch, 'compiler', None)
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting()
                or (compiler is not None and compiler.is_compiling())
                or is_in_torch_dispatch_mode())
