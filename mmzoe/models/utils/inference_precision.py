"""Inference precision of a depth model: weights cast once, fp32 islands.

``torch.autocast`` casts every weight of every matmul and convolution again on
every call (a SwinV2-B + DPT forward: ~480 ``aten::copy_`` of weights per
prediction). :func:`set_inference_precision` casts the weights once instead
and keeps the parts that need float32 in float32:

* the metric head (``decode_head``: bin centres, attractors, the
  log-binomial softmax over the bins) and a training-only ``auxiliary_head``
  always run in float32 (~4 % of the FLOPs of the SwinV2-B model);
* in float16 also the relative-depth head of the core (``relative_head``):
  its output, MiDaS' relative inverse depth, can exceed the float16 range
  (65504) with trained weights, which made upstream ZoeDepth's float16 runs
  give NaN; its features are the largest activations of the DPT decoder;
* the continuous position-bias MLP of the fused SwinV2 attention (computed
  once and cached per dtype, so it costs nothing per call) and its logit
  scale stay float32; only the cached bias is converted.

Forward pre-hooks at the borders convert the incoming tensors to the dtype of
the module they enter (the backbone: the low precision; an island:
float32), so the data preprocessor, the heads and every caller keep working
with float32 tensors. The hooks follow the module's current weights, so a
later ``model.float()`` makes them no-ops.
"""
import dataclasses
import warnings
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

PRECISIONS: Dict[str, torch.dtype] = {
    'fp32': torch.float32,
    'bf16': torch.bfloat16,
    'fp16': torch.float16,
}

# Parts of the estimator whose weights take the low precision.
_LOW_PRECISION_PARTS = ('backbone', 'neck')
# Submodules (by attribute name, anywhere in the model) kept in float32.
FP32_ISLANDS: Dict[str, tuple] = {
    'fp32': (),
    'bf16': ('decode_head', 'auxiliary_head'),
    'fp16': ('decode_head', 'auxiliary_head', 'relative_head'),
}
_HOOKS_ATTR = '_zoe_precision_hooks'


def _param_dtype(module: nn.Module) -> Optional[torch.dtype]:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def cast_floating(value: Any, dtype: torch.dtype) -> Any:
    """``value`` with every floating tensor in it converted to ``dtype``.

    Tensors, lists, tuples (named tuples too), dicts and dataclass instances
    are followed; anything else is returned as is.

    Args:
        value (Any): A tensor or a container of them.
        dtype (torch.dtype): Target dtype.

    Returns:
        Any: The same structure.
    """
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and value.dtype != dtype:
            return value.to(dtype)
        return value
    if isinstance(value, dict):
        return type(value)(
            (k, cast_floating(v, dtype)) for k, v in value.items())
    if isinstance(value, tuple) and hasattr(value, '_fields'):
        return type(value)(*(cast_floating(v, dtype) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(cast_floating(v, dtype) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: cast_floating(getattr(value, f.name), dtype)
            for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def _to_module_dtype(module: nn.Module, args: tuple, kwargs: dict):
    dtype = _param_dtype(module)
    if dtype is None:
        return None
    return cast_floating(args, dtype), cast_floating(kwargs, dtype)


def _keep_position_bias_fp32(module: nn.Module) -> None:
    from mmzoe.models.backbones.swinv2_fused_attention import \
        ZoeSwinV2FusedAttention
    for sub in module.modules():
        if isinstance(sub, ZoeSwinV2FusedAttention):
            sub.cpb_mlp.float()
            sub.logit_scale.data = sub.logit_scale.data.float()
            sub.relative_coords_table = sub.relative_coords_table.float()
            sub._bias_cache = None


def _on_cpu(model: nn.Module) -> bool:
    p = next(model.parameters(), None)
    return p is not None and p.device.type == 'cpu'


def _cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 kernels natively on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def set_inference_precision(model: nn.Module, precision: str) -> nn.Module:
    """Cast a depth estimator's weights for inference in ``precision``.

    Args:
        model (nn.Module): A :class:`~mmzoe.models.ZoeDepthEstimator` (or any
            model with ``backbone`` / ``neck`` parts), in eval mode.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``. ``'fp32'``
            casts everything back to float32.

    Returns:
        nn.Module: ``model`` (changed in place), with ``model.precision``.

    Raises:
        ValueError: For an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, '
                         f'got {precision!r}.')
    if precision == 'bf16' and _on_cpu(model) and not _cpu_has_bf16():
        warnings.warn(
            'precision bf16 on a CPU without bf16 matrix units (no '
            'AVX512-BF16/AMX): matmuls and convolutions fall back to slow '
            'kernels; fp32 is faster here.')
    for handle in getattr(model, _HOOKS_ATTR, []):
        handle.remove()
    hooks: List = []
    model.float()
    dtype = PRECISIONS[precision]
    if precision != 'fp32':
        parts = [getattr(model, name) for name in _LOW_PRECISION_PARTS
                 if isinstance(getattr(model, name, None), nn.Module)]
        if not parts:
            raise ValueError(f'{type(model).__name__} has none of '
                             f'{_LOW_PRECISION_PARTS}: nothing to cast.')
        for part in parts:
            part.to(dtype)
            _keep_position_bias_fp32(part)
        islands = [
            sub for name, sub in model.named_modules()
            if name and name.split('.')[-1] in FP32_ISLANDS[precision]
        ]
        for sub in islands:
            sub.float()
        # The first low-precision part gets the preprocessed images; each
        # island gets its inputs converted back to float32.
        for sub in [parts[0]] + islands:
            hooks.append(
                sub.register_forward_pre_hook(
                    _to_module_dtype, with_kwargs=True))
    setattr(model, _HOOKS_ATTR, hooks)
    model.precision = precision
    return model
