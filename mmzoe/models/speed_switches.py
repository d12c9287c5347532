"""The speed switches of mmzoe: one list for configs, tools and tests.

Every switch computes the same function as the plain eager fp32 model in
upstream ZoeDepth's order of operations (what the code defaults build), up to
the stated tolerance. A switch sets one or more config keys together (dotted
paths from the config root); keys of a part that a model does not have (e.g.
``attn_impl`` on a CNN core) are skipped, so the same list applies to every
core. The shipped model configs (``configs/_base_/models/zoedepth_swin2b.py``
and ``zoedepth_tiny.py``, hence the demo and test configs built on them) set
every switch whose ``shipped`` value differs from ``off``;
``tests/test_models/test_perf_switches.py`` checks that, and checks each tolerance.
A switch with ``applies_to`` only exists for parts of the registered types
it names: ``toeplitz_bias`` for the SwinV2 and BEiT cores (shipped on in
all three model configs), and the ViT reassemble stage's ``split_readout``
(shipped on in ``zoedepth_beitl384.py`` and every config built on it);
``tests/test_models/test_beit_speed_switches.py`` and
``tests/test_models/test_swinv2_strided_bias.py`` check them.

Differences between the code defaults and the shipped configs, stated here
once:

* ``attn_impl``, ``channels_last``, ``fast_conv_grad``,
  ``conv_before_resize``, ``clb_project_condition``, ``fused_expectation``,
  ``toeplitz_bias``
  and ``split_readout`` are off in the code (the constructors build
  upstream's order of operations, what the converted-weights equivalence
  tests compare) and on in the shipped configs.
* ``fused_eval`` is off in the code and on in the shipped configs; it
  changes only the eval-mode forward without gradients (float32 CPU).
* ``winograd_conv`` is off in the code and on in the shipped configs; it
  changes only float32 CPU runs outside autocast (NNPACK), see
  :mod:`mmzoe.models.utils.winograd_conv`.
* ``with_cp`` is off in both (it trades time for training memory).
* ``full_bias_cache`` is off in both: the ``'sdpa'`` attention keeps only
  the per-head position-bias table and gathers the bias in every call
  (SwinV2-B at 384²: the whole bias would be 531 MB, more than the process
  peak of upstream ZoeDepth leaves room for); on, it trades that memory for
  the per-call gather (measured in docs/memory.md).
* ``cpu_runtime`` is on in both (:data:`~mmzoe.utils.cpu_runtime.
  DEFAULT_CPU_RUNTIME` when ``env_cfg.cpu_runtime`` is absent), CPU runs only.
* ``precision`` (``init_model(precision=...)``, ``--precision`` of
  ``tools/infer.py`` / ``tools/test.py``) and ``compile`` are chosen per run,
  not by the config; both default to off (fp32, eager).
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Tuple


@dataclass(frozen=True)
class SpeedSwitch:
    """One speed switch.

    Args:
        name (str): Short name (benchmark rows, test ids).
        keys (tuple[str]): Dotted config keys it sets together; empty for a
            per-run choice that is not a config key.
        on (Any): Value of every key when the switch is on.
        off (Any): Value when off (the code default).
        shipped (Any): Value in the shipped model configs.
        tolerance (str): What the switch promises against the reference.
        rtol (float): The number behind ``tolerance`` (what the equivalence
            test checks).
        doc (str): One line on what it does.
        applies_to (tuple[str]): Registered types of the part holding the
            keys (e.g. ``('ZoeBEiT', )``); parts of other types are skipped
            by :func:`set_switch` and read as ``off`` by :func:`get_switch`.
            Empty (the default): every part that has the key's parent.
    """
    name: str
    keys: Tuple[str, ...]
    on: Any
    off: Any
    shipped: Any
    tolerance: str
    rtol: float
    doc: str
    applies_to: Tuple[str, ...] = field(default=())


SPEED_SWITCHES: Tuple[SpeedSwitch, ...] = (
    SpeedSwitch(
        'attn_impl', ('model.backbone.attn_impl', ), 'sdpa', 'timm', 'sdpa',
        'max relative depth difference <= 1e-5 (fp32)', 1e-5,
        'SwinV2 window attention through scaled_dot_product_attention, '
        'position bias cached in eval mode'),
    SpeedSwitch(
        'full_bias_cache', ('model.backbone.bias_cache', ), 'full', 'table',
        'table', 'identical depth (the same bias values)', 0.0,
        'the whole SwinV2 position bias kept in eval mode: no gather per '
        'call, 531 MB more resident (SwinV2-B, 384x384)'),
    SpeedSwitch(
        'channels_last', ('model.neck.channels_last', ), True, False, True,
        'max relative depth difference <= 1e-5 (fp32)', 1e-5,
        'DPT decoder convolutions in channels-last memory format'),
    SpeedSwitch(
        'fast_conv_grad', ('model.neck.fast_conv_grad', ), True, False, True,
        'same forward; input, weight and bias gradients within 1e-5 of '
        'their largest entry (fp32)', 1e-5,
        'DPT decoder 3x3 convolutions as ZoeConv2d: input gradient as a '
        'forward convolution, weight gradient as matrix products over the '
        'pixels (CPU training)'),
    SpeedSwitch(
        'conv_before_resize', ('model.neck.conv_before_resize', ), True,
        False, True, 'max relative depth difference <= 1e-5 (fp32); same '
        'loss and gradients up to rounding', 1e-5,
        'DPT fusion blocks: 1x1 out_conv before the bilinear resize also in '
        'training (4x fewer pixels; 14 GFLOP less per SwinV2-B step)'),
    SpeedSwitch(
        'clb_project_condition',
        ('model.decode_head.clb_project_condition', ), True, False, True,
        'max relative depth difference <= 1e-5 (fp32)', 1e-5,
        'project the bin embedding before upsampling it (2.3 GFLOP less)'),
    SpeedSwitch(
        'fused_expectation', ('model.decode_head.fused_expectation', ), True,
        False, True, 'max relative depth difference <= 1e-5 (fp32); same '
        'loss and gradients up to rounding', 1e-5,
        'depth = sum(probs * centres) in strips, probabilities recomputed '
        'in the backward pass'),
    SpeedSwitch(
        'fused_eval', ('model.backbone.fused_eval', 'model.neck.fused_eval',
                       'model.decode_head.fused_eval'),
        True, False, True,
        'max relative depth difference <= 1e-5 (fp32); eval mode without '
        'gradients only (training and autograd run the plain code)', 1e-5,
        'eval forward through oneDNN fused operators (conv + ReLU / + '
        'residual, linear + bias / + GELU), 1x1 DPT convs before the '
        'resize, no layout copies (SwinV2 window gathers, channels-last '
        'outputs); BEiT blocks with layer scale + residual in one operation '
        'and keys instead of queries reordered for the strided bias; '
        'metric-head MLPs as oneDNN 1x1 convolutions with bias + ReLU'),
    SpeedSwitch(
        'winograd_conv', ('model.neck.winograd_conv', ), True, False, True,
        'max relative depth difference <= 1e-5 (fp32; ~1e-6 measured); '
        'gradients within 1e-4 of their largest entry', 1e-5,
        'fp32 CPU only: DPT decoder 3x3 convolutions of maps from 40x40 '
        'through NNPACK Winograd kernels (eval forward; training forward '
        'and input gradient with fast_conv_grad; their weight gradient, '
        'for >= 128 in and out channels, through Winograd F(4x4, 3x3) in '
        'torch operators), NCHW there; Winograd '
        'rounding ~1e-5 of the largest output of a convolution, end-to-end '
        'depth ~1e-6'),
    SpeedSwitch(
        'with_cp', ('model.backbone.with_cp', 'model.neck.with_cp',
                    'model.decode_head.with_cp'), True, False, False,
        'same loss (1e-5) and gradients (1e-4 of the largest entry)', 1e-5,
        'activation checkpointing of backbone blocks, neck and head '
        '(training memory for time)'),
    SpeedSwitch(
        'cpu_runtime', ('env_cfg.cpu_runtime', ),
        dict(malloc='reuse', flush_denormal=True), None,
        dict(malloc='reuse', flush_denormal=True),
        'max relative depth difference <= 1e-6 (only denormals change)',
        1e-6, 'glibc keeps freed memory, denormals flushed to zero '
        '(CPU runs only)'),
    SpeedSwitch(
        'precision', (), 'bf16', 'fp32', 'fp32',
        'mean relative depth error <= 1 % against fp32', 1e-2,
        'weights of the core cast once to bf16/fp16, metric head in fp32 '
        '(init_model(precision=...), --precision)'),
    SpeedSwitch(
        'toeplitz_bias', ('model.backbone.toeplitz_bias', ), True, False,
        True, 'max relative depth difference <= 1e-5 (fp32; SwinV2: the '
        'same bias values, table gradient up to summation order)', 1e-5,
        'relative position bias copied from strided views of its table '
        'instead of an index gather: SwinV2 (with attn_impl sdpa; training: '
        'table gradient as offset sums instead of index_add_) and BEiT '
        '(resized table, queries in reversed patch order)',
        applies_to=('ZoeSwinV2', 'ZoeBEiT')),
    SpeedSwitch(
        'split_readout', ('model.neck.reassemble.split_readout', ), True,
        False, True, 'max relative depth difference <= 1e-5 (fp32)', 1e-5,
        "ViT readout projection as W_p t + (W_r r + b): half its "
        'multiply-adds, no concatenation',
        applies_to=('ZoeViTReassemble', )),
)

SWITCHES_BY_NAME: Dict[str, SpeedSwitch] = {s.name: s for s in SPEED_SWITCHES}

# The switches that are config keys of the model.
MODEL_SWITCHES: Tuple[str, ...] = tuple(
    s.name for s in SPEED_SWITCHES
    if s.keys and all(k.startswith('model.') for k in s.keys))


# Keys that only some part types accept (backbones; the metric head's
# fused_eval): key -> parts of the registered type names that do (other
# parts are skipped).
_KEYS_OF_PART_TYPES = {
    'model.backbone.attn_impl': ('SwinV2', ),
    'model.backbone.bias_cache': ('SwinV2', ),
    'model.backbone.fused_eval': ('SwinV2', 'BEiT'),
    'model.decode_head.fused_eval': ('ZoeDepthHead', ),
}


def _parent(cfg, key: str):
    """The dict holding the last part of ``key`` (None if a part is
    missing)."""
    node = cfg
    parts = key.split('.')
    for part in parts[:-1]:
        node = node.get(part, None) if hasattr(node, 'get') else None
        if node is None:
            return None
    return node


def _applies(switch: SpeedSwitch, parent) -> bool:
    """Whether ``parent`` (the dict holding a key) is a part of a type the
    switch applies to."""
    if not switch.applies_to:
        return True
    part_type = str(parent.get('type', '')).split('.')[-1]
    return part_type in switch.applies_to


def set_switch(cfg, name: str, value: Any) -> None:
    """Set every config key of switch ``name`` to ``value`` (in place).

    Keys of parts the config does not have are skipped; a backbone that is
    not a ``ZoeSwinV2`` gets no ``attn_impl`` or ``bias_cache``, one that
    is neither a ``ZoeSwinV2`` nor a ``ZoeBEiT`` no ``fused_eval``, and a
    decode head other than ``ZoeDepthHead`` no ``fused_eval``.

    Args:
        cfg (Config | dict): A full config (keys from its root).
        name (str): A switch name of :data:`SPEED_SWITCHES`.
        value (Any): Usually the switch's ``on`` or ``off``.
    """
    switch = SWITCHES_BY_NAME[name]
    for key in switch.keys:
        parent = _parent(cfg, key)
        if parent is None or not _applies(switch, parent):
            continue
        if key in _KEYS_OF_PART_TYPES and not any(
                part in str(parent.get('type', ''))
                for part in _KEYS_OF_PART_TYPES[key]):
            continue
        parent[key.split('.')[-1]] = copy.deepcopy(value)


def get_switch(cfg, name: str) -> Any:
    """The value of switch ``name`` in ``cfg`` (its first key that the
    config has; the code default ``off`` if it has none)."""
    switch = SWITCHES_BY_NAME[name]
    for key in switch.keys:
        parent = _parent(cfg, key)
        if parent is not None and key.split('.')[-1] in parent and \
                _applies(switch, parent):
            return parent[key.split('.')[-1]]
    return switch.off


def reference_config(cfg, names: Optional[Iterable[str]] = None):
    """A copy of ``cfg`` with the model switches off: the plain eager model
    in upstream's order of operations that every switch is checked against.

    Args:
        cfg (Config | dict): A full config (with ``model``).
        names (Iterable[str], optional): Switches to turn off. Defaults to
            :data:`MODEL_SWITCHES`.

    Returns:
        Config | dict: The modified copy.
    """
    ref = copy.deepcopy(cfg)
    for name in (MODEL_SWITCHES if names is None else names):
        set_switch(ref, name, SWITCHES_BY_NAME[name].off)
    return ref


def switch_state(cfg) -> Dict[str, Any]:
    """``{name: value}`` of every config-key switch of ``cfg``."""
    return {
        s.name: get_switch(cfg, s.name)
        for s in SPEED_SWITCHES if s.keys
    }
