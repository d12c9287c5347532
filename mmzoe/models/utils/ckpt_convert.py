"""Checkpoint key translation for MiDaS v3.1 / ZoeDepth (SwinV2 core).

Pure functions on ``state_dict``-like mappings: no model code lives here, so
the converters can run without building a network.

Upstream layouts (written with timm 0.6.x):

* MiDaS ``dpt_swin2_base_384.pt``: a bare state dict with the prefixes
  ``pretrained.model.`` (timm SwinV2) and ``scratch.`` (DPT neck + head).
* ZoeDepth: ``{"model": state_dict, ...}`` or a bare state dict, optionally
  with a DDP ``module.`` prefix; the MiDaS keys live under ``core.core.`` and
  the metric head keys (``conv2``, ``seed_bin_regressor``, ...) at the top.

Our layout (mmzoe, timm 1.x):

* ``backbone.model.*``: timm 1.x SwinV2. timm 0.6 stored the PatchMerging of
  stage ``i`` at the END of that stage (``layers.{i}.downsample``); timm 1.x
  puts it at the START of the next one (``layers.{i+1}.downsample``).
  ``attn_mask`` (persistent in timm 0.6), ``relative_position_index``,
  ``relative_coords_table`` and ``k_bias`` are rebuilt by timm and dropped;
  the unused final ``norm`` and classifier ``head`` are dropped as well.
* ``neck.layer{1..4}_rn``, ``neck.refinenet{1..4}.*`` (same names as MiDaS's
  ``scratch``), ``neck.relative_head.*`` for MiDaS ``scratch.output_conv.*``.
* ``decode_head.*``: the ZoeDepth metric head, upstream module names kept.
"""
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

# Metric head keys of ZoeDepth (ZoeD_M12 layout). Module names are identical in
# mmzoe's ``ZoeDepthHead``; only the ``decode_head.`` prefix is added.
_ZOE_HEAD_PATTERNS: Tuple[str, ...] = (
    r'conv2\.(weight|bias)',
    r'seed_bin_regressor\._net\.[02]\.(weight|bias)',
    r'seed_projector\._net\.[02]\.(weight|bias)',
    r'projectors\.\d+\._net\.[02]\.(weight|bias)',
    r'attractors\.\d+\._net\.[02]\.(weight|bias)',
    r'conditional_log_binomial\.mlp\.[02]\.(weight|bias)',
    r'conditional_log_binomial\.log_binomial_transform\.(k_idx|K_minus_1)',
)
_ZOE_HEAD_RE = re.compile('^(?:' + '|'.join(_ZOE_HEAD_PATTERNS) + ')$')

# timm SwinV2 tensors that timm 1.x rebuilds (non-persistent buffers and the
# shifted-window mask) or that our backbone does not have (final norm, head).
_SWIN_DROP_RE = re.compile(
    r'^(?:layers\.\d+\.blocks\.\d+\.(?:attn_mask|attn\.relative_position_index'
    r'|attn\.relative_coords_table|attn\.k_bias)'
    r'|norm\.(?:weight|bias)|head\.(?:fc\.)?(?:weight|bias))$')
_SWIN_DOWNSAMPLE_RE = re.compile(r'^layers\.(\d+)\.downsample\.(.+)$')
_SWIN_KEEP_RE = re.compile(
    r'^(?:patch_embed\.(?:proj|norm)\.(?:weight|bias)'
    r'|layers\.\d+\.blocks\.\d+\.(?:norm[12]\.(?:weight|bias)'
    r'|mlp\.fc[12]\.(?:weight|bias)'
    r'|attn\.(?:logit_scale|q_bias|v_bias|qkv\.weight|proj\.(?:weight|bias)'
    r'|cpb_mlp\.[02]\.(?:weight|bias))))$')

_MIDAS_NECK_RE = re.compile(
    r'^(?:layer[1-4]_rn\.weight'
    r'|refinenet[1-4]\.(?:out_conv\.(?:weight|bias)'
    r'|resConfUnit[12]\.conv[12]\.(?:weight|bias)))$')
_MIDAS_OUTPUT_CONV_RE = re.compile(r'^output_conv\.([024])\.(weight|bias)$')
# MiDaS ``scratch.output_conv`` Sequential index -> our relative head names.
_OUTPUT_CONV_NAMES = {'0': 'conv1', '2': 'conv2', '4': 'conv3'}


class CheckpointConversionError(KeyError):
    """Raised when checkpoint keys cannot be placed in the mmzoe layout."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ''


def _fail(what: str, keys: Iterable[str], hint: str = '') -> None:
    keys = sorted(keys)
    lines = '\n  '.join(keys)
    raise CheckpointConversionError(
        f'{what}: {len(keys)} key(s) could not be placed:\n  {lines}'
        + (f'\n{hint}' if hint else ''))


def unwrap_state_dict(checkpoint: Mapping) -> StateDict:
    """Return the bare state dict of a loaded checkpoint.

    Accepts ``{"model": sd}``, ``{"state_dict": sd}`` (MMEngine) or a bare
    state dict, and strips a leading DDP ``module.`` prefix when every key
    has it.

    Args:
        checkpoint (Mapping): Object returned by ``torch.load``.

    Returns:
        dict[str, Tensor]: The state dict (a new ``OrderedDict``).
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError('Expected a checkpoint dict, got '
                        f'{type(checkpoint).__name__}.')
    sd = checkpoint
    for wrapper in ('model', 'state_dict'):
        inner = sd.get(wrapper) if isinstance(sd, Mapping) else None
        if isinstance(inner, Mapping):
            sd = inner
            break
    non_tensor = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if non_tensor:
        _fail('Checkpoint entries that are not tensors', non_tensor)
    keys = list(sd.keys())
    if keys and all(k.startswith('module.') for k in keys):
        return OrderedDict((k[len('module.'):], v) for k, v in sd.items())
    return OrderedDict(sd)


def load_state_dict_file(path: str) -> StateDict:
    """Load a checkpoint file safely and return its bare state dict.

    Args:
        path (str): ``.pt``/``.pth`` file (loaded with ``weights_only=True``).

    Returns:
        dict[str, Tensor]: See :func:`unwrap_state_dict`.
    """
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f'Checkpoint file not found: {path}') from None
    except Exception as e:  # noqa: BLE001 (re-raised with the file name)
        raise RuntimeError(
            f'Could not load checkpoint {path} with weights_only=True: '
            f'{e}') from e
    try:
        return unwrap_state_dict(ckpt)
    except (TypeError, CheckpointConversionError) as e:
        raise type(e)(f'{path}: {e}') from None


def _map_head(state_dict: Mapping[str, torch.Tensor],
              prefix: str) -> Tuple[StateDict, List[str]]:
    out: StateDict = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        if _ZOE_HEAD_RE.match(key):
            out[prefix + key] = value
        else:
            unknown.append(key)
    return out, unknown


def _map_swin(state_dict: Mapping[str, torch.Tensor],
              prefix: str) -> Tuple[StateDict, List[str]]:
    out: StateDict = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        if _SWIN_DROP_RE.match(key):
            continue
        m = _SWIN_DOWNSAMPLE_RE.match(key)
        if m and m.group(2) in ('reduction.weight', 'norm.weight',
                                'norm.bias'):
            new_key = f'layers.{int(m.group(1)) + 1}.downsample.{m.group(2)}'
        elif _SWIN_KEEP_RE.match(key):
            new_key = key
        else:
            unknown.append(key)
            continue
        out[prefix + new_key] = value
    return out, unknown


def _map_scratch(state_dict: Mapping[str, torch.Tensor],
                 prefix: str) -> Tuple[StateDict, List[str]]:
    out: StateDict = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        m = _MIDAS_OUTPUT_CONV_RE.match(key)
        if m:
            out[f'{prefix}relative_head.{_OUTPUT_CONV_NAMES[m.group(1)]}.'
                f'{m.group(2)}'] = value
        elif _MIDAS_NECK_RE.match(key):
            out[prefix + key] = value
        else:
            unknown.append(key)
    return out, unknown


def _map_midas(state_dict: Mapping[str, torch.Tensor], backbone_prefix: str,
               neck_prefix: str) -> Tuple[StateDict, List[str]]:
    backbone: StateDict = OrderedDict()
    scratch: StateDict = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        if key.startswith('pretrained.model.'):
            backbone[key[len('pretrained.model.'):]] = value
        elif key.startswith('scratch.'):
            scratch[key[len('scratch.'):]] = value
        else:
            unknown.append(key)
    for part, pre in ((backbone, 'pretrained.model.'), (scratch, 'scratch.')):
        if not part:
            raise CheckpointConversionError(
                f'No keys starting with "{pre}" found: not a MiDaS DPT '
                'SwinV2 state dict.')
    out, bad = _map_swin(backbone, backbone_prefix)
    unknown += ['pretrained.model.' + k for k in bad]
    neck, bad = _map_scratch(scratch, neck_prefix)
    unknown += ['scratch.' + k for k in bad]
    out.update(neck)
    return out, unknown


def convert_zoedepth_head_keys(state_dict: Mapping[str, torch.Tensor],
                               prefix: str = 'decode_head.') -> StateDict:
    """Map upstream ZoeDepth metric-head keys to mmzoe ``decode_head.*``.

    Module names of :class:`ZoeDepthHead` equal upstream's, so the mapping is
    the identity plus ``prefix``, e.g. ``seed_bin_regressor._net.0.weight``
    -> ``decode_head.seed_bin_regressor._net.0.weight``.

    Args:
        state_dict (Mapping[str, Tensor]): Upstream head tensors only (no
            ``core.`` keys).
        prefix (str): Prefix of the head in the target model.
            Defaults to ``'decode_head.'``.

    Returns:
        dict[str, Tensor]: Converted state dict.

    Raises:
        CheckpointConversionError: If any key is not a known head key (all
            unknown keys are listed).
    """
    out, unknown = _map_head(state_dict, prefix)
    if unknown:
        _fail('Unknown ZoeDepth metric-head keys', unknown)
    return out


def convert_swinv2_timm06_keys(state_dict: Mapping[str, torch.Tensor],
                               prefix: str = 'backbone.model.') -> StateDict:
    """Map timm 0.6 SwinV2 keys (no ``pretrained.model.`` prefix) to timm 1.x.

    Moves ``layers.{i}.downsample.*`` to ``layers.{i+1}.downsample.*`` and
    drops tensors that timm 1.x rebuilds (``attn_mask``,
    ``relative_position_index``, ``relative_coords_table``, ``k_bias``) as
    well as the unused final ``norm`` and classifier ``head``.

    Args:
        state_dict (Mapping[str, Tensor]): timm 0.6 SwinV2 state dict.
        prefix (str): Prefix of the timm model in the target.

    Returns:
        dict[str, Tensor]: Converted state dict.

    Raises:
        CheckpointConversionError: Listing every key that is not a known
            SwinV2 key.
    """
    out, unknown = _map_swin(state_dict, prefix)
    if unknown:
        _fail('Unknown SwinV2 (timm 0.6) keys', unknown)
    return out


def convert_midas_keys(state_dict: Mapping[str, torch.Tensor],
                       backbone_prefix: str = 'backbone.model.',
                       neck_prefix: str = 'neck.') -> StateDict:
    """Convert a MiDaS v3.1 DPT-SwinV2 state dict to mmzoe core keys.

    ``pretrained.model.*`` goes through :func:`convert_swinv2_timm06_keys`;
    ``scratch.layer{n}_rn`` / ``scratch.refinenet{n}`` keep their names under
    ``neck.``; ``scratch.output_conv.{0,2,4}`` become
    ``neck.relative_head.conv{1,2,3}``.

    Args:
        state_dict (Mapping[str, Tensor]): MiDaS ``dpt_swin2_*`` state dict.
        backbone_prefix (str): Target prefix of the timm model.
        neck_prefix (str): Target prefix of the DPT neck.

    Returns:
        dict[str, Tensor]: ``backbone.*`` and ``neck.*`` tensors.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed, or if the backbone or scratch part is missing.
    """
    out, unknown = _map_midas(state_dict, backbone_prefix, neck_prefix)
    if unknown:
        _fail('MiDaS checkpoint', unknown)
    return out


def convert_zoedepth_keys(state_dict: Mapping[str, torch.Tensor],
                          core_prefix: str = 'core.core.') -> StateDict:
    """Convert a ZoeDepth (SwinV2 core) state dict to the full mmzoe model.

    Args:
        state_dict (Mapping[str, Tensor]): Bare ZoeDepth state dict (use
            :func:`unwrap_state_dict` first for ``{"model": sd}`` files).
        core_prefix (str): Prefix of the MiDaS model inside ZoeDepth.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*`` and ``decode_head.*``.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    core: StateDict = OrderedDict()
    head: StateDict = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(core_prefix):
            core[key[len(core_prefix):]] = value
        else:
            head[key] = value
    if not core:
        raise CheckpointConversionError(
            f'No "{core_prefix}*" keys: not a ZoeDepth checkpoint.')
    out, bad = _map_midas(core, 'backbone.model.', 'neck.')
    unknown = [core_prefix + k for k in bad]
    head_out, bad = _map_head(head, 'decode_head.')
    unknown += bad
    out.update(head_out)
    if unknown:
        _fail('ZoeDepth checkpoint', unknown)
    return out


def check_against_model_keys(converted: Mapping[str, torch.Tensor],
                             target: Mapping[str, torch.Tensor],
                             prefixes: Optional[Iterable[str]] = None,
                             source: str = 'converted checkpoint') -> None:
    """Compare converted keys and shapes with a target state dict.

    Args:
        converted (Mapping[str, Tensor]): Converted tensors.
        target (Mapping[str, Tensor]): ``model.state_dict()`` of the target.
        prefixes (Iterable[str], optional): Only compare target keys with one
            of these prefixes (e.g. ``('backbone.', 'neck.')``).
        source (str): Name used in the error message.

    Raises:
        CheckpointConversionError: Listing missing keys, unexpected keys and
            shape mismatches by name.
    """
    if prefixes is not None:
        prefixes = tuple(prefixes)
        target = {k: v for k, v in target.items() if k.startswith(prefixes)}
    missing = sorted(set(target) - set(converted))
    unexpected = sorted(set(converted) - set(target))
    shape = sorted(
        f'{k}: {tuple(converted[k].shape)} vs model {tuple(target[k].shape)}'
        for k in set(target) & set(converted)
        if tuple(converted[k].shape) != tuple(target[k].shape))
    if missing or unexpected or shape:
        msg = [f'{source} does not match the model:']
        for title, items in (('missing', missing), ('unexpected', unexpected),
                             ('shape mismatch', shape)):
            if items:
                msg.append(f' {title} ({len(items)}):')
                msg.extend(f'  {it}' for it in items)
        raise CheckpointConversionError('\n'.join(msg))


def convert_checkpoint_file(src: str, dst: str, convert_fn,
                            converter: str) -> int:
    """Read ``src``, translate its keys with ``convert_fn``, save ``dst``.

    The body of the ``tools/model_converters`` command lines.

    Args:
        src (str): Upstream checkpoint (read with ``weights_only=True``).
        dst (str): Output file; ``{'state_dict': ..., 'meta': ...}``.
        convert_fn (Callable): ``convert_midas_keys`` or
            ``convert_zoedepth_keys``.
        converter (str): Name stored in ``meta['converter']``.

    Returns:
        int: 0 on success, 1 after printing ``error: SRC: reason`` to stderr.
    """
    try:
        state_dict = convert_fn(load_state_dict_file(src))
    except (FileNotFoundError, CheckpointConversionError, RuntimeError,
            TypeError) as e:
        print(f'error: {src}: {e}', file=sys.stderr)
        return 1
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(source=osp.basename(src), converter=converter)), dst)
    print(f'Saved {len(state_dict)} tensors to {dst}')
    return 0


# ---------------------------------------------------------------------------
# Depth Anything (DINOv2 ViT + DPT head) cores
# ---------------------------------------------------------------------------
# Upstream layouts (V1 github.com/LiheYoung/Depth-Anything, V2
# github.com/DepthAnything/Depth-Anything-V2; the same names in both):
#
# * relative checkpoints (``depth_anything_vit{s,b,l}14.pth``,
#   ``depth_anything_v2_vit{s,b,l}.pth``): a bare state dict with
#   ``pretrained.*`` (the DINOv2 ViT, ``blocks.{i}`` without chunking) and
#   ``depth_head.*`` (``projects``, ``resize_layers``, optional
#   ``readout_projects``, ``scratch.layer{n}_rn`` / ``refinenet{n}`` /
#   ``output_conv1`` / ``output_conv2``);
# * V1 metric checkpoints (``depth_anything_metric_depth_{indoor,outdoor}.pt``)
#   are ZoeDepth checkpoints: the relative model above under ``core.core.``,
#   the metric-bins head at the top.
#
# Our layout: ``backbone.model.*`` (timm 1.x DINOv2 ViT, same tensor names
# as DINOv2's own code), ``neck.reassemble.*`` (projects, resize_layers,
# readout_projects), ``neck.layer{n}_rn`` / ``neck.refinenet{n}``,
# ``neck.relative_head.conv{1,2,3}`` for ``output_conv1`` /
# ``output_conv2.0`` / ``output_conv2.2``, ``decode_head.*``.

# Upstream tensors with no counterpart, dropped by name (with the reason).
DEPTH_ANYTHING_DROPPED_KEYS = {
    'pretrained.mask_token':
    'DINOv2 masked-image-modelling token, used only in DINOv2 pre-training '
    '(never in a Depth Anything forward pass)',
}
_DINOV2_KEEP_RE = re.compile(
    r'^(?:cls_token|pos_embed|patch_embed\.proj\.(?:weight|bias)'
    r'|norm\.(?:weight|bias)'
    r'|blocks\.\d+\.(?:norm[12]\.(?:weight|bias)|ls[12]\.gamma'
    r'|attn\.(?:qkv|proj)\.(?:weight|bias)|mlp\.fc[12]\.(?:weight|bias)))$')
_DA_REASSEMBLE_RE = re.compile(
    r'^(?:projects\.[0-3]|resize_layers\.[013]|readout_projects\.[0-3]\.0)'
    r'\.(?:weight|bias)$')
_DA_OUTPUT_CONV_RE = re.compile(
    r'^scratch\.output_conv(1|2\.0|2\.2)\.(weight|bias)$')
_DA_OUTPUT_CONV_NAMES = {'1': 'conv1', '2.0': 'conv2', '2.2': 'conv3'}


def _map_depth_anything(state_dict: Mapping[str, torch.Tensor],
                        backbone_prefix: str,
                        neck_prefix: str) -> Tuple[StateDict, List[str]]:
    out: StateDict = OrderedDict()
    unknown: List[str] = []
    found = {'pretrained.': False, 'depth_head.': False}
    for key, value in state_dict.items():
        if key in DEPTH_ANYTHING_DROPPED_KEYS:
            continue
        if key.startswith('pretrained.'):
            found['pretrained.'] = True
            sub = key[len('pretrained.'):]
            if _DINOV2_KEEP_RE.match(sub):
                out[backbone_prefix + sub] = value
                continue
        elif key.startswith('depth_head.'):
            found['depth_head.'] = True
            sub = key[len('depth_head.'):]
            m = _DA_OUTPUT_CONV_RE.match(sub)
            if m:
                name = _DA_OUTPUT_CONV_NAMES[m.group(1)]
                out[f'{neck_prefix}relative_head.{name}.{m.group(2)}'] = value
                continue
            if _DA_REASSEMBLE_RE.match(sub):
                out[f'{neck_prefix}reassemble.{sub}'] = value
                continue
            if sub.startswith('scratch.') and _MIDAS_NECK_RE.match(
                    sub[len('scratch.'):]):
                out[neck_prefix + sub[len('scratch.'):]] = value
                continue
        unknown.append(key)
    for pre, ok in found.items():
        if not ok:
            raise CheckpointConversionError(
                f'No keys starting with "{pre}" found: not a Depth Anything '
                '(DINOv2 + DPT head) state dict.')
    return out, unknown


def depth_anything_dropped_keys(state_dict: Mapping[str, torch.Tensor],
                                prefix: str = '') -> Dict[str, str]:
    """Upstream keys of ``state_dict`` the Depth Anything converters drop.

    Args:
        state_dict (Mapping[str, Tensor]): Upstream state dict.
        prefix (str): Prefix of the Depth Anything model in it (``''`` for
            relative checkpoints, ``'core.core.'`` for metric ones).

    Returns:
        dict[str, str]: Dropped key -> reason.
    """
    return {
        prefix + k: why
        for k, why in DEPTH_ANYTHING_DROPPED_KEYS.items()
        if prefix + k in state_dict
    }


def convert_depth_anything_keys(state_dict: Mapping[str, torch.Tensor],
                                backbone_prefix: str = 'backbone.model.',
                                neck_prefix: str = 'neck.') -> StateDict:
    """Convert a Depth Anything V1/V2 relative state dict to mmzoe core keys.

    ``pretrained.*`` -> ``backbone.model.*`` (``ZoeDINOv2``; names kept),
    ``depth_head.{projects,resize_layers,readout_projects}`` ->
    ``neck.reassemble.*``, ``depth_head.scratch.layer{n}_rn`` /
    ``refinenet{n}`` -> ``neck.*``, ``depth_head.scratch.output_conv1`` /
    ``output_conv2.0`` / ``output_conv2.2`` ->
    ``neck.relative_head.conv{1,2,3}``. ``pretrained.mask_token`` is
    dropped (:data:`DEPTH_ANYTHING_DROPPED_KEYS`).

    Args:
        state_dict (Mapping[str, Tensor]): Upstream relative state dict.
        backbone_prefix (str): Target prefix of the timm ViT.
        neck_prefix (str): Target prefix of the DPT neck.

    Returns:
        dict[str, Tensor]: ``backbone.*`` and ``neck.*`` tensors.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed, or if the encoder or head part is missing.
    """
    out, unknown = _map_depth_anything(state_dict, backbone_prefix,
                                       neck_prefix)
    if unknown:
        _fail('Depth Anything checkpoint', unknown)
    return out


def convert_depth_anything_metric_keys(
        state_dict: Mapping[str, torch.Tensor],
        core_prefix: str = 'core.core.') -> StateDict:
    """Convert a Depth Anything V1 metric (ZoeDepth layout) state dict.

    The Depth Anything model under ``core_prefix`` goes through
    :func:`convert_depth_anything_keys`, the metric-bins head through
    :func:`convert_zoedepth_head_keys`.

    Args:
        state_dict (Mapping[str, Tensor]): Bare state dict of
            ``depth_anything_metric_depth_{indoor,outdoor}.pt`` (use
            :func:`unwrap_state_dict` for ``{"model": sd}`` files).
        core_prefix (str): Prefix of the Depth Anything model.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*`` and ``decode_head.*``.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    core: StateDict = OrderedDict()
    head: StateDict = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(core_prefix):
            core[key[len(core_prefix):]] = value
        else:
            head[key] = value
    if not core:
        raise CheckpointConversionError(
            f'No "{core_prefix}*" keys: not a ZoeDepth-layout checkpoint.')
    out, bad = _map_depth_anything(core, 'backbone.model.', 'neck.')
    unknown = [core_prefix + k for k in bad]
    head_out, bad = _map_head(head, 'decode_head.')
    unknown += bad
    out.update(head_out)
    if unknown:
        _fail('Depth Anything metric checkpoint', unknown)
    return out
