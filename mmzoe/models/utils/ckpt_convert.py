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
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

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


# What a ``place(key, ...)`` function of :func:`_mapping` returns for a
# tensor that is left out on purpose (``None``: the key cannot be placed).
_DROP = ''


def _mapping(place: Callable[..., Optional[str]]
             ) -> Callable[..., Tuple[StateDict, List[str]]]:
    """A key mapping ``f(state_dict, *args) -> (converted, unknown)`` that
    renames every key with ``place(key, *args)``: the new name,
    :data:`_DROP` to leave the tensor out, ``None`` when it cannot be
    placed (then it is listed in ``unknown``). Order is kept."""

    def map_state_dict(state_dict: Mapping[str, torch.Tensor],
                       *args) -> Tuple[StateDict, List[str]]:
        out: StateDict = OrderedDict()
        unknown: List[str] = []
        for key, value in state_dict.items():
            new_key = place(key, *args)
            if new_key is None:
                unknown.append(key)
            elif new_key != _DROP:
                out[new_key] = value
        return out, unknown

    return map_state_dict


def _placed(mapped: Tuple[StateDict, List[str]], what: str) -> StateDict:
    """The tensors of a ``(converted, unknown)`` mapping result, or a
    :class:`CheckpointConversionError` naming ``what`` and every key in
    ``unknown``."""
    out, unknown = mapped
    if unknown:
        _fail(what, unknown)
    return out


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


def _place_head(key: str, prefix: str) -> Optional[str]:
    return prefix + key if _ZOE_HEAD_RE.match(key) else None


def _place_swin(key: str, prefix: str) -> Optional[str]:
    if _SWIN_DROP_RE.match(key):
        return _DROP
    m = _SWIN_DOWNSAMPLE_RE.match(key)
    if m and m.group(2) in ('reduction.weight', 'norm.weight', 'norm.bias'):
        return f'{prefix}layers.{int(m.group(1)) + 1}.downsample.{m.group(2)}'
    if _SWIN_KEEP_RE.match(key):
        return prefix + key
    return None


def _place_scratch(key: str, prefix: str) -> Optional[str]:
    m = _MIDAS_OUTPUT_CONV_RE.match(key)
    if m:
        return (f'{prefix}relative_head.{_OUTPUT_CONV_NAMES[m.group(1)]}.'
                f'{m.group(2)}')
    if _MIDAS_NECK_RE.match(key):
        return prefix + key
    return None


# (state_dict, prefix) -> (converted, keys that could not be placed)
_map_head = _mapping(_place_head)
_map_swin = _mapping(_place_swin)
_map_scratch = _mapping(_place_scratch)


def _map_midas_layout(state_dict: Mapping[str, torch.Tensor],
                      core_prefix: str, kind: str,
                      map_core: Callable[[StateDict],
                                         Tuple[StateDict, List[str]]],
                      neck_prefix: str) -> Tuple[StateDict, List[str]]:
    """Split a MiDaS DPT state dict into its core (``core_prefix``, mapped
    by ``map_core``) and ``scratch.*`` (the neck); returns the mapped
    tensors (core first) and the keys that could not be placed."""
    core: StateDict = OrderedDict()
    scratch: StateDict = OrderedDict()
    unknown: List[str] = []
    for key, value in state_dict.items():
        if key.startswith(core_prefix):
            core[key[len(core_prefix):]] = value
        elif key.startswith('scratch.'):
            scratch[key[len('scratch.'):]] = value
        else:
            unknown.append(key)
    for part, pre in ((core, core_prefix), (scratch, 'scratch.')):
        if not part:
            raise CheckpointConversionError(
                f'No keys starting with "{pre}" found: not a MiDaS DPT '
                f'{kind} state dict.')
    out, bad = map_core(core)
    unknown += [core_prefix + k for k in bad]
    neck, bad = _map_scratch(scratch, neck_prefix)
    unknown += ['scratch.' + k for k in bad]
    out.update(neck)
    return out, unknown


def _map_midas(state_dict: Mapping[str, torch.Tensor], backbone_prefix: str,
               neck_prefix: str) -> Tuple[StateDict, List[str]]:
    return _map_midas_layout(
        state_dict, 'pretrained.model.', 'SwinV2',
        lambda core: _map_swin(core, backbone_prefix), neck_prefix)


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
    return _placed(_map_head(state_dict, prefix),
                   'Unknown ZoeDepth metric-head keys')


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
    return _placed(_map_swin(state_dict, prefix),
                   'Unknown SwinV2 (timm 0.6) keys')


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
    return _placed(_map_midas(state_dict, backbone_prefix, neck_prefix),
                   'MiDaS checkpoint')


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
    return _convert_core_and_head(
        state_dict, core_prefix,
        lambda core: _map_midas(core, 'backbone.model.', 'neck.'),
        _map_head, 'ZoeDepth checkpoint')


def _convert_core_and_head(state_dict: Mapping[str, torch.Tensor],
                           core_prefix: str, map_core, map_head, what: str,
                           layout: str = 'ZoeDepth') -> StateDict:
    """Split a ZoeDepth-layout state dict at ``core_prefix`` and convert
    both parts: the core with ``map_core(core_sd) -> (converted, unknown)``
    (keys without the prefix), the rest with ``map_head(head_sd,
    'decode_head.') -> (converted, unknown)``; every key neither places is
    listed in one :class:`CheckpointConversionError` naming ``what``."""
    core: StateDict = OrderedDict()
    head: StateDict = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(core_prefix):
            core[key[len(core_prefix):]] = value
        else:
            head[key] = value
    if not core:
        raise CheckpointConversionError(
            f'No "{core_prefix}*" keys: not a {layout} checkpoint.')
    out, bad = map_core(core)
    unknown = [core_prefix + k for k in bad]
    head_out, bad = map_head(head, 'decode_head.')
    unknown += bad
    out.update(head_out)
    return _placed((out, unknown), what)


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


def save_converted_checkpoint(state_dict: Mapping[str, torch.Tensor],
                              dst: str, source: str, converter: str) -> None:
    """Write converted tensors as ``{'state_dict': ..., 'meta': ...}``.

    Args:
        state_dict (Mapping[str, Tensor]): Converted tensors.
        dst (str): Output file (its folder is created).
        source (str): Name of the upstream file, ``meta['source']``.
        converter (str): Name of the converter, ``meta['converter']``.
    """
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(source=source, converter=converter)), dst)


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
    save_converted_checkpoint(state_dict, dst, osp.basename(src), converter)
    print(f'Saved {len(state_dict)} tensors to {dst}')
    return 0


def converter_main(argv: Optional[List[str]],
                   convert_fn: Callable[[StateDict], StateDict],
                   converter: str,
                   description: str,
                   src_help: str,
                   dropped: Optional[Callable[[StateDict],
                                              Dict[str, str]]] = None) -> int:
    """The command line ``SRC DST`` of a ``tools/model_converters`` script.

    Parses ``argv``, converts with :func:`convert_checkpoint_file` and, with
    ``dropped``, prints ``dropped KEY: reason`` for each upstream tensor left
    out on purpose once the conversion has succeeded.

    Args:
        argv (list[str], optional): Arguments (None: ``sys.argv[1:]``).
        convert_fn (Callable): Bare upstream state dict -> mmzoe tensors.
        converter (str): Name stored in ``meta['converter']``.
        description (str): The ``--help`` description.
        src_help (str): The ``--help`` text of ``src``.
        dropped (Callable, optional): Upstream state dict -> ``{key:
            reason}`` of the dropped tensors (e.g.
            :func:`depth_anything_dropped_keys`). Defaults to None.

    Returns:
        int: The exit status of :func:`convert_checkpoint_file`.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='output file (.pth)')
    args = parser.parse_args(argv)

    def convert(state_dict: StateDict) -> StateDict:
        out = convert_fn(state_dict)
        for key, why in (dropped(state_dict) if dropped else {}).items():
            print(f'dropped {key}: {why}')
        return out

    return convert_checkpoint_file(args.src, args.dst, convert, converter)


# ---------------------------------------------------------------------------
# MiDaS v3.1 BEiT cores (DPT_BEiT_L_384 / _512) and ZoeDepth on them
# (ZoeD_M12_N layout). Upstream (timm 0.6) -> mmzoe (timm 1.x, ZoeBEiT):
#
# * ``pretrained.model.{cls_token, patch_embed.proj.*, blocks.N.*}`` ->
#   ``backbone.model.*`` (same names in timm 1.x). Dropped: the persistent
#   ``blocks.N.attn.relative_position_index`` of timm 0.6 (rebuilt from the
#   window size), the unused classifier ``fc_norm`` / ``head`` and the final
#   ``norm`` when present.
# * ``pretrained.act_postprocess{i}`` (MiDaS' reassemble Sequential:
#   0 = ProjectReadout, 3 = 1x1 conv, 4 = resampling) ->
#   ``neck.reassemble.{readout_projects.{i-1}.0, projects.{i-1},
#   resize_layers.{i-1}}``.
# * ``scratch.*`` as for the SwinV2 cores.
# ---------------------------------------------------------------------------
_BEIT_DROP_RE = re.compile(
    r'^(?:blocks\.\d+\.attn\.relative_position_index'
    r'|(?:fc_)?norm\.(?:weight|bias)|head\.(?:weight|bias))$')
_BEIT_KEEP_RE = re.compile(
    r'^(?:cls_token|patch_embed\.proj\.(?:weight|bias)'
    r'|blocks\.\d+\.(?:gamma_[12]|norm[12]\.(?:weight|bias)'
    r'|attn\.(?:q_bias|v_bias|relative_position_bias_table|qkv\.weight'
    r'|proj\.(?:weight|bias))'
    r'|mlp\.fc[12]\.(?:weight|bias)))$')
_DPT_POSTPROCESS_RE = re.compile(
    r'^act_postprocess([1-4])\.(0\.project\.0|3|4)\.(weight|bias)$')
_DPT_POSTPROCESS_NAMES = {
    '0.project.0': 'readout_projects.{}.0',
    '3': 'projects.{}',
    '4': 'resize_layers.{}',
}


def is_beit_midas_state_dict(state_dict: Mapping[str, torch.Tensor],
                             core_prefix: str = '') -> bool:
    """Whether a MiDaS (or, with ``core_prefix``, ZoeDepth) state dict has a
    ViT/BEiT core (a DPT reassemble stage, ``pretrained.act_postprocess*``).

    Args:
        state_dict (Mapping[str, Tensor]): Bare state dict.
        core_prefix (str): Prefix of the MiDaS model (``'core.core.'`` in
            ZoeDepth). Defaults to ``''``.

    Returns:
        bool: True for BEiT (ViT) cores, False otherwise (e.g. SwinV2).
    """
    key = core_prefix + 'pretrained.act_postprocess1.'
    return any(k.startswith(key) for k in state_dict)


def _place_beit_pretrained(key: str, backbone_prefix: str,
                           reassemble_prefix: str) -> Optional[str]:
    if key.startswith('model.'):
        sub = key[len('model.'):]
        if _BEIT_DROP_RE.match(sub):
            return _DROP
        if _BEIT_KEEP_RE.match(sub):
            return backbone_prefix + sub
        return None
    m = _DPT_POSTPROCESS_RE.match(key)
    if m:
        name = _DPT_POSTPROCESS_NAMES[m.group(2)].format(int(m.group(1)) - 1)
        return f'{reassemble_prefix}{name}.{m.group(3)}'
    return None


# ``pretrained.*`` of a MiDaS BEiT core (prefix already removed):
# (state_dict, backbone_prefix, reassemble_prefix)
_map_beit_pretrained = _mapping(_place_beit_pretrained)


def _map_midas_beit(state_dict: Mapping[str, torch.Tensor],
                    backbone_prefix: str,
                    neck_prefix: str) -> Tuple[StateDict, List[str]]:
    return _map_midas_layout(
        state_dict, 'pretrained.', 'BEiT',
        lambda core: _map_beit_pretrained(core, backbone_prefix,
                                          neck_prefix + 'reassemble.'),
        neck_prefix)


def convert_midas_beit_keys(state_dict: Mapping[str, torch.Tensor],
                            backbone_prefix: str = 'backbone.model.',
                            neck_prefix: str = 'neck.') -> StateDict:
    """Convert a MiDaS v3.1 DPT-BEiT state dict to mmzoe core keys.

    Args:
        state_dict (Mapping[str, Tensor]): MiDaS ``dpt_beit_*`` state dict.
        backbone_prefix (str): Target prefix of the timm BEiT.
        neck_prefix (str): Target prefix of the DPT neck (the reassemble
            stage goes to ``<neck_prefix>reassemble.``).

    Returns:
        dict[str, Tensor]: ``backbone.*`` and ``neck.*`` tensors.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    return _placed(
        _map_midas_beit(state_dict, backbone_prefix, neck_prefix),
        'MiDaS BEiT checkpoint')


def convert_zoedepth_beit_keys(state_dict: Mapping[str, torch.Tensor],
                               core_prefix: str = 'core.core.') -> StateDict:
    """Convert a ZoeDepth state dict on a BEiT core (ZoeD_M12_N layout).

    Args:
        state_dict (Mapping[str, Tensor]): Bare ZoeDepth state dict.
        core_prefix (str): Prefix of the MiDaS model inside ZoeDepth.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*`` (with
        ``neck.reassemble.*``) and ``decode_head.*``.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    return _convert_core_and_head(
        state_dict, core_prefix,
        lambda core: _map_midas_beit(core, 'backbone.model.', 'neck.'),
        _map_head, 'ZoeDepth (BEiT core) checkpoint')


def convert_zoedepth_any_keys(state_dict: Mapping[str, torch.Tensor],
                              core_prefix: str = 'core.core.') -> StateDict:
    """:func:`convert_zoedepth_nk_keys` for routed ZoeD_M12_NK state dicts,
    else :func:`convert_zoedepth_beit_keys` for BEiT cores, else
    :func:`convert_zoedepth_keys` (SwinV2 cores)."""
    if is_zoedepth_nk_state_dict(state_dict):  # ZoeD_M12_NK (routed)
        return convert_zoedepth_nk_keys(state_dict, core_prefix)
    if is_beit_midas_state_dict(state_dict, core_prefix):
        return convert_zoedepth_beit_keys(state_dict, core_prefix)
    return convert_zoedepth_keys(state_dict, core_prefix)


def convert_midas_any_keys(state_dict: Mapping[str, torch.Tensor]
                           ) -> StateDict:
    """:func:`convert_midas_beit_keys` for BEiT cores, else
    :func:`convert_midas_keys` (SwinV2 cores)."""
    if is_beit_midas_state_dict(state_dict):
        return convert_midas_beit_keys(state_dict)
    return convert_midas_keys(state_dict)


# ---------------------------------------------------------------------------
# Hugging Face transformers ``ZoeDepthForDepthEstimation`` (BEiT backbone) ->
# mmzoe. Reads both the transformers 4.x names (the files published on the
# hub: ``backbone.encoder.layer.N.attention.attention.query``, ...) and the
# 5.x names (``backbone.beit.layers.N.attention.q_proj``, ...). The separate
# query / key / value projections are stacked into timm's ``qkv`` (BEiT's key
# has no bias); the log-binomial buffers (not stored by transformers) are
# rebuilt from the number of bins.
# ---------------------------------------------------------------------------
_HF_BLOCK_RE = re.compile(
    r'^backbone\.(?:beit\.)?(?:encoder\.layer|encoder\.layers|layers)'
    r'\.(\d+)\.(.+)$')
_HF_EMBED = {
    'cls_token': 'cls_token',
    'patch_embeddings.projection.weight': 'patch_embed.proj.weight',
    'patch_embeddings.projection.bias': 'patch_embed.proj.bias',
}
_HF_EMBED_RE = re.compile(r'^backbone\.(?:beit\.)?embeddings\.(.+)$')
# block sub-key -> timm name (None: q / k / v parts, stacked afterwards)
_HF_BLOCK_NAMES = {
    'lambda_1': 'gamma_1',
    'lambda_2': 'gamma_2',
    'layernorm_before.weight': 'norm1.weight',
    'layernorm_before.bias': 'norm1.bias',
    'layernorm_after.weight': 'norm2.weight',
    'layernorm_after.bias': 'norm2.bias',
    'intermediate.dense.weight': 'mlp.fc1.weight',
    'intermediate.dense.bias': 'mlp.fc1.bias',
    'output.dense.weight': 'mlp.fc2.weight',
    'output.dense.bias': 'mlp.fc2.bias',
    'mlp.fc1.weight': 'mlp.fc1.weight',
    'mlp.fc1.bias': 'mlp.fc1.bias',
    'mlp.fc2.weight': 'mlp.fc2.weight',
    'mlp.fc2.bias': 'mlp.fc2.bias',
    'attention.output.dense.weight': 'attn.proj.weight',
    'attention.output.dense.bias': 'attn.proj.bias',
    'attention.o_proj.weight': 'attn.proj.weight',
    'attention.o_proj.bias': 'attn.proj.bias',
    'attention.attention.relative_position_bias.relative_position_bias_table':
    'attn.relative_position_bias_table',
    'relative_position_bias.relative_position_bias_table':
    'attn.relative_position_bias_table',
    'attention.attention.query.weight': 'q.weight',
    'attention.attention.query.bias': 'attn.q_bias',
    'attention.attention.key.weight': 'k.weight',
    'attention.attention.value.weight': 'v.weight',
    'attention.attention.value.bias': 'attn.v_bias',
    'attention.q_proj.weight': 'q.weight',
    'attention.q_proj.bias': 'attn.q_bias',
    'attention.k_proj.weight': 'k.weight',
    'attention.v_proj.weight': 'v.weight',
    'attention.v_proj.bias': 'attn.v_bias',
}
_HF_BLOCK_DROP_RE = re.compile(r'(?:^|\.)relative_position_index$')
_HF_NECK_RES = (
    (re.compile(r'^neck\.reassemble_stage\.readout_projects\.(\d+)\.0\.'
                r'(weight|bias)$'),
     'neck.reassemble.readout_projects.{0}.0.{1}'),
    (re.compile(r'^neck\.reassemble_stage\.layers\.(\d+)\.projection\.'
                r'(weight|bias)$'), 'neck.reassemble.projects.{0}.{1}'),
    (re.compile(r'^neck\.reassemble_stage\.layers\.(\d+)\.resize\.'
                r'(weight|bias)$'), 'neck.reassemble.resize_layers.{0}.{1}'),
    (re.compile(r'^relative_head\.(conv[123])\.(weight|bias)$'),
     'neck.relative_head.{0}.{1}'),
    (re.compile(r'^metric_head\.conv2\.(weight|bias)$'),
     'decode_head.conv2.{0}'),
    (re.compile(r'^metric_head\.conditional_log_binomial\.mlp\.([02])\.'
                r'(weight|bias)$'),
     'decode_head.conditional_log_binomial.mlp.{0}.{1}'),
)
_HF_CONV_RE = re.compile(r'^neck\.convs\.([0-3])\.weight$')
_HF_FUSION_RE = re.compile(
    r'^neck\.fusion_stage\.layers\.([0-3])\.(projection|residual_layer[12]'
    r'\.convolution[12])\.(weight|bias)$')
_HF_MLP_RE = re.compile(
    r'^metric_head\.(seed_bin_regressor|seed_projector|projectors\.\d+'
    r'|attractors\.\d+)\.conv([12])\.(weight|bias)$')


def _hf_fusion_name(layer: str, part: str, param: str) -> str:
    # transformers' fusion layer j is MiDaS' refinenet (4 - j)
    if part == 'projection':
        sub = 'out_conv'
    else:
        unit, conv = part.split('.')
        sub = (f'resConfUnit{unit[-1]}.conv{conv[-1]}')
    return f'neck.refinenet{4 - int(layer)}.{sub}.{param}'


def convert_hf_zoedepth_keys(state_dict: Mapping[str, torch.Tensor],
                             n_bins: Optional[int] = None,
                             core_only: bool = False) -> StateDict:
    """Convert a transformers ``ZoeDepthForDepthEstimation`` state dict
    (BEiT backbone, one metric head: ZoeD_N / ZoeD_K) to mmzoe keys.

    Args:
        state_dict (Mapping[str, Tensor]): The model's tensors
            (``model.safetensors`` / ``pytorch_model.bin``).
        n_bins (int, optional): Bins of the metric head, for the
            log-binomial buffers. Defaults to the seed regressor's outputs.
        core_only (bool): Convert only the backbone, neck and relative head
            (``metric_head.*`` keys are left out). Defaults to False.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*`` and ``decode_head.*``
        for ``configs/_base_/models/zoedepth_beitl384.py``.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed (a router / several metric heads, i.e. ZoeD_NK, is named
            as such).
    """
    out: StateDict = OrderedDict()
    qkv: Dict[int, Dict[str, torch.Tensor]] = {}
    unknown: List[str] = []
    for key, value in state_dict.items():
        if core_only and key.startswith('metric_head.'):
            continue
        m = _HF_BLOCK_RE.match(key)
        if m:
            i, sub = int(m.group(1)), m.group(2)
            if _HF_BLOCK_DROP_RE.search(sub):
                continue
            name = _HF_BLOCK_NAMES.get(sub)
            if name is None:
                unknown.append(key)
            elif name in ('q.weight', 'k.weight', 'v.weight'):
                qkv.setdefault(i, {})[name[0]] = value
            else:
                out[f'backbone.model.blocks.{i}.{name}'] = value
            continue
        m = _HF_EMBED_RE.match(key)
        if m:
            if m.group(1) in _HF_EMBED:
                out['backbone.model.' + _HF_EMBED[m.group(1)]] = value
            else:
                unknown.append(key)
            continue
        m = _HF_CONV_RE.match(key)
        if m:
            out[f'neck.layer{int(m.group(1)) + 1}_rn.weight'] = value
            continue
        m = _HF_FUSION_RE.match(key)
        if m:
            out[_hf_fusion_name(*m.groups())] = value
            continue
        m = _HF_MLP_RE.match(key)
        if m:
            idx = '0' if m.group(2) == '1' else '2'
            out[f'decode_head.{m.group(1)}._net.{idx}.{m.group(3)}'] = value
            continue
        for pattern, target in _HF_NECK_RES:
            m = pattern.match(key)
            if m:
                out[target.format(*m.groups())] = value
                break
        else:
            if not key.endswith(('k_idx', 'k_minus_1', 'K_minus_1')):
                unknown.append(key)
    for i, parts in sorted(qkv.items()):
        if set(parts) != {'q', 'k', 'v'}:
            unknown += [f'block {i}: query/key/value incomplete '
                        f'(has {sorted(parts)})']
            continue
        out[f'backbone.model.blocks.{i}.attn.qkv.weight'] = torch.cat(
            [parts['q'], parts['k'], parts['v']], 0)
    if unknown:
        nk = any('patch_transformer' in k or 'seed_bin_regressors' in k
                 or 'mlp_classifier' in k for k in unknown)
        _fail(
            'transformers ZoeDepth checkpoint', unknown,
            'Several metric heads with a router (ZoeD_NK) are not placed '
            'by this function (convert_hf_zoedepth_nk_keys converts them).'
            if nk else '')
    if core_only:
        return out
    if n_bins is None:
        reg = out.get('decode_head.seed_bin_regressor._net.2.weight')
        if reg is None:
            _fail('transformers ZoeDepth checkpoint',
                  ['metric_head.seed_bin_regressor.conv2.weight (missing)'])
        n_bins = int(reg.shape[0])
    out['decode_head.conditional_log_binomial.log_binomial_transform.k_idx'] \
        = torch.arange(n_bins, dtype=torch.int64).view(1, -1, 1, 1)
    out['decode_head.conditional_log_binomial.log_binomial_transform.'
        'K_minus_1'] = torch.tensor([float(n_bins - 1)]).view(1, 1, 1, 1)
    return out


def hf_zoedepth_config_overrides(hf_config: Mapping) -> Dict[str, object]:
    """mmzoe config values for a transformers ZoeDepth ``config.json``.

    Args:
        hf_config (Mapping): The parsed ``config.json``.

    Returns:
        dict: ``model`` overrides of ``configs/_base_/models/
        zoedepth_beitl384.py`` (backbone size, hooks, reassemble and neck
        channels, metric head settings) as nested dicts.

    Raises:
        ValueError: For configurations mmzoe does not reproduce (another
            backbone than BEiT, several metric heads, absolute position
            embeddings, ...), naming the field.
    """
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f'config.json: {what} is not supported.')

    bb = dict(hf_config.get('backbone_config') or {})
    need(hf_config.get('model_type', 'zoedepth') == 'zoedepth',
         f"model_type {hf_config.get('model_type')!r}")
    need(bb.get('model_type') == 'beit',
         f"backbone_config.model_type {bb.get('model_type')!r} (BEiT only)")
    need(bool(bb.get('use_relative_position_bias', False)) and
         not bb.get('use_absolute_position_embeddings', False) and
         not bb.get('use_shared_relative_position_bias', False),
         'a BEiT without per-layer relative position bias')
    bins = hf_config.get('bin_configurations') or [
        dict(n_bins=64, min_depth=1e-3, max_depth=10.0)
    ]
    need(len(bins) == 1,
         f'{len(bins)} bin configurations (ZoeD_NK: router and several '
         'metric heads)')
    need(hf_config.get('readout_type', 'project') == 'project',
         f"readout_type {hf_config.get('readout_type')!r}")
    need(not hf_config.get('add_projection', False), 'add_projection=true')
    need(not hf_config.get('use_batch_norm_in_fusion_residual', False),
         'batch norm in the fusion blocks')
    need(hf_config.get('hidden_act', 'gelu') == 'gelu' and
         bb.get('hidden_act', 'gelu') == 'gelu', 'an activation other than '
         'gelu')
    need(hf_config.get('attractor_type', 'inv') == 'inv'
         if 'attractor_type' in hf_config else True, 'attractor_type')
    stages = bb.get('out_indices')
    if stages is None:
        stages = [int(s.replace('stage', '')) for s in bb['out_features']]
    depth = int(bb.get('num_hidden_layers', 24))
    hidden = int(bb.get('hidden_size', 1024))
    image_size = bb.get('image_size', 384)
    neck_sizes = [int(c) for c in hf_config.get('neck_hidden_sizes')]
    fusion = int(hf_config.get('fusion_hidden_size', 256))
    need(int(hf_config.get('bottleneck_features', fusion)) == fusion,
         'bottleneck_features != fusion_hidden_size')
    n_rel = int(hf_config.get('num_relative_features', 32))
    b = bins[0]
    bin_type = hf_config.get('bin_centers_type', 'softplus')
    need(float(bb.get('layer_scale_init_value', 0.1)) > 0,
         'a BEiT without layer scale')
    if isinstance(image_size, (list, tuple)):
        image_size = [int(s) for s in image_size]
        if image_size[0] == image_size[1]:
            image_size = image_size[0]
    # timm arguments that differ from beit_large_patch16_384's
    sizes = dict(
        img_size=image_size,
        patch_size=int(bb.get('patch_size', 16)),
        embed_dim=hidden,
        depth=depth,
        num_heads=int(bb.get('num_attention_heads', 16)),
        mlp_ratio=float(bb.get('intermediate_size', 4 * hidden)) / hidden)
    beit_l = dict(img_size=384, patch_size=16, embed_dim=1024, depth=24,
                  num_heads=16, mlp_ratio=4.0)
    sizes = {k: v for k, v in sizes.items() if v != beit_l[k]}
    return dict(
        backbone=dict(
            type='ZoeBEiT',
            arch='beit_large_patch16_384',
            out_indices=[int(s) - 1 for s in stages],
            norm_eps=float(bb.get('layer_norm_eps', 1e-12)),
            **sizes),
        neck=dict(
            reassemble=dict(
                in_channels=hidden,
                out_channels=neck_sizes,
                scale_factors=[
                    float(f) for f in hf_config.get('reassemble_factors',
                                                     [4, 2, 1, 0.5])
                ]),
            in_channels=neck_sizes,
            channels=fusion,
            relative_head=dict(feat_channels=n_rel)),
        decode_head=dict(
            in_channels=fusion,
            out_conv_channels=n_rel,
            n_bins=int(b['n_bins']),
            bin_embedding_dim=int(hf_config.get('bin_embedding_dim', 128)),
            # transformers sizes the attractor MLPs by the embedding width
            # (128 in every released model, as upstream's fixed 128)
            attractor_mlp_dim=int(hf_config.get('bin_embedding_dim', 128)),
            n_attractors=[int(a) for a in hf_config.get(
                'num_attractors', [16, 8, 4, 1])],
            attractor_alpha=hf_config.get('attractor_alpha', 1000),
            attractor_gamma=hf_config.get('attractor_gamma', 2),
            attractor_kind=hf_config.get('attractor_kind', 'mean'),
            bin_centers_type=bin_type,
            min_depth=float(b['min_depth']),
            max_depth=float(b['max_depth']),
            min_temp=float(hf_config.get('min_temp', 0.0212)),
            max_temp=float(hf_config.get('max_temp', 50.0)),
            loss_decode=dict(
                min_depth=float(b['min_depth']),
                max_depth=float(b['max_depth']))))


# ---------------------------------------------------------------------------
# ZoeD_M12_K / ZoeD_M12_NK (KITTI model and the routed NYU+KITTI model).
#
# ZoeD_M12_K has the key layout of ZoeD_M12_N (only the bin type and the
# depth range differ), so ``convert_zoedepth_keys`` converts it. ZoeD_M12_NK
# shares ``conv2``, ``seed_projector`` and ``projectors`` between its heads
# and keeps one ``seed_bin_regressors.<domain>``, ``attractors.<domain>`` and
# ``conditional_log_binomial.<domain>`` per domain; its router
# (``patch_transformer.*``, ``mlp_classifier.*``) moves under
# ``decode_head.router.``. Everything else keeps its name under
# ``decode_head.`` (``ZoeDepthNKHead``).
# ---------------------------------------------------------------------------
_NK_DOMAIN = r'[A-Za-z_][A-Za-z0-9_]*'
_ZOE_NK_HEAD_RE = re.compile(
    '^(?:' + '|'.join((
        r'conv2\.(weight|bias)',
        r'seed_projector\._net\.[02]\.(weight|bias)',
        r'projectors\.\d+\._net\.[02]\.(weight|bias)',
        rf'seed_bin_regressors\.{_NK_DOMAIN}\._net\.[02]\.(weight|bias)',
        rf'attractors\.{_NK_DOMAIN}\.\d+\._net\.[02]\.(weight|bias)',
        rf'conditional_log_binomial\.{_NK_DOMAIN}\.mlp\.[02]\.'
        r'(weight|bias)',
        rf'conditional_log_binomial\.{_NK_DOMAIN}\.log_binomial_transform'
        r'\.(k_idx|K_minus_1)',
    )) + ')$')
_ZOE_NK_ROUTER_RE = re.compile(
    r'^(?:patch_transformer\.(?:embedding_convPxP\.(?:weight|bias)'
    r'|transformer_encoder\.layers\.\d+\.(?:self_attn\.(?:in_proj_weight'
    r'|in_proj_bias|out_proj\.weight|out_proj\.bias)'
    r'|linear[12]\.(?:weight|bias)|norm[12]\.(?:weight|bias)))'
    r'|mlp_classifier\.[02]\.(?:weight|bias))$')
_ZOE_NK_MARKERS = ('seed_bin_regressors.', 'patch_transformer.',
                   'mlp_classifier.')


def is_zoedepth_nk_state_dict(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether a bare ZoeDepth state dict is the routed NK model."""
    return any(k.startswith(_ZOE_NK_MARKERS) for k in state_dict)


def _place_nk_head(key: str, prefix: str) -> Optional[str]:
    if _ZOE_NK_ROUTER_RE.match(key):
        return f'{prefix}router.{key}'
    if _ZOE_NK_HEAD_RE.match(key):
        return prefix + key
    return None


_map_nk_head = _mapping(_place_nk_head)  # (state_dict, prefix)


def convert_zoedepth_nk_keys(state_dict: Mapping[str, torch.Tensor],
                             core_prefix: str = 'core.core.',
                             map_core=None) -> StateDict:
    """Convert a ZoeDepth-NK (ZoeD_M12_NK layout) state dict to mmzoe.

    Args:
        state_dict (Mapping[str, Tensor]): Bare ZoeDepth-NK state dict.
        core_prefix (str): Prefix of the MiDaS model inside ZoeDepth.
        map_core (Callable, optional): ``f(core_sd) -> (converted,
            unknown_keys)`` for the MiDaS part (keys without
            ``core_prefix``). Defaults to the BEiT or the SwinV2 core
            mapping, chosen by the keys (as :func:`convert_zoedepth_any_keys`).

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*`` and ``decode_head.*``
        (router under ``decode_head.router.``).

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    if map_core is None:

        def map_core(core):
            if is_beit_midas_state_dict(core):
                return _map_midas_beit(core, 'backbone.model.', 'neck.')
            return _map_midas(core, 'backbone.model.', 'neck.')

    return _convert_core_and_head(state_dict, core_prefix, map_core,
                                  _map_nk_head, 'ZoeDepth-NK checkpoint')


# transformers ZoeD_NK (several bin configurations + router): the metric head
# keys are renamed to upstream's ZoeDepth-NK names and placed by the NK head
# mapping above; query / key / value of the router's attention are stacked
# into nn.MultiheadAttention's in_proj as upstream stores it.
_HF_NK_MARKERS = ('metric_head.seed_bin_regressors.',
                  'metric_head.patch_transformer.',
                  'metric_head.mlp_classifier.')
_HF_NK_RENAMES = (
    (re.compile(r'^metric_head\.((?:seed_projector|projectors\.\d+|'
                rf'seed_bin_regressors\.{_NK_DOMAIN}|attractors\.'
                rf'{_NK_DOMAIN}\.\d+))\.conv([12])\.(weight|bias)$'),
     lambda m: f'{m.group(1)}._net.{"0" if m.group(2) == "1" else "2"}.'
     f'{m.group(3)}'),
    (re.compile(r'^metric_head\.(conv2\.(?:weight|bias)|conditional_log_'
                rf'binomial\.{_NK_DOMAIN}\.mlp\.[02]\.(?:weight|bias)|'
                r'patch_transformer\.embedding_convPxP\.(?:weight|bias))$'),
     lambda m: m.group(1)),
    (re.compile(r'^metric_head\.patch_transformer\.transformer_encoder\.'
                r'(?:layers\.)?(\d+)\.(self_attn\.out_proj|linear[12]|'
                r'norm[12])\.(weight|bias)$'),
     lambda m: f'patch_transformer.transformer_encoder.layers.{m.group(1)}.'
     f'{m.group(2)}.{m.group(3)}'),
    (re.compile(r'^metric_head\.mlp_classifier\.linear([12])\.'
                r'(weight|bias)$'),
     lambda m: f'mlp_classifier.{"0" if m.group(1) == "1" else "2"}.'
     f'{m.group(2)}'),
)
_HF_NK_QKV_RE = re.compile(
    r'^metric_head\.patch_transformer\.transformer_encoder\.(?:layers\.)?'
    r'(\d+)\.self_attn\.(query|key|value)\.(weight|bias)$')


def is_hf_zoedepth_nk_state_dict(
        state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether a transformers ZoeDepth state dict has a router (ZoeD_NK)."""
    return any(k.startswith(_HF_NK_MARKERS) for k in state_dict)


def convert_hf_zoedepth_nk_keys(state_dict: Mapping[str, torch.Tensor]
                                ) -> StateDict:
    """Convert a transformers ZoeD_NK state dict to mmzoe keys
    (``ZoeDepthNKHead``, router under ``decode_head.router.``).

    Args:
        state_dict (Mapping[str, Tensor]): The model's tensors.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``neck.*``, ``decode_head.*``.

    Raises:
        CheckpointConversionError: Listing every key that could not be
            placed.
    """
    core = {k: v for k, v in state_dict.items()
            if not k.startswith('metric_head.')}
    head_hf = {k: v for k, v in state_dict.items()
               if k.startswith('metric_head.')}
    out = convert_hf_zoedepth_keys(core, core_only=True)
    upstream: StateDict = OrderedDict()
    qkv: Dict[Tuple[str, str], Dict[str, torch.Tensor]] = {}
    unknown: List[str] = []
    for key, value in head_hf.items():
        m = _HF_NK_QKV_RE.match(key)
        if m:
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = value
            continue
        for pattern, rename in _HF_NK_RENAMES:
            m = pattern.match(key)
            if m:
                upstream[rename(m)] = value
                break
        else:
            if not key.endswith(('k_idx', 'k_minus_1', 'K_minus_1')):
                unknown.append(key)
    for (layer, param), parts in sorted(qkv.items()):
        if set(parts) != {'query', 'key', 'value'}:
            unknown.append(f'router layer {layer} {param}: query/key/value '
                           f'incomplete (has {sorted(parts)})')
            continue
        name = 'in_proj_weight' if param == 'weight' else 'in_proj_bias'
        upstream[f'patch_transformer.transformer_encoder.layers.{layer}.'
                 f'self_attn.{name}'] = torch.cat(
                     [parts['query'], parts['key'], parts['value']], 0)
    head, bad = _map_nk_head(upstream, 'decode_head.')
    unknown += bad
    if unknown:
        _fail('transformers ZoeDepth (NK) checkpoint', unknown)
    out.update(head)
    for key, value in list(head.items()):
        m = re.match(rf'^decode_head\.seed_bin_regressors\.({_NK_DOMAIN})\.'
                     r'_net\.2\.weight$', key)
        if m:
            n_bins = int(value.shape[0])
            pre = (f'decode_head.conditional_log_binomial.{m.group(1)}.'
                   'log_binomial_transform.')
            out[pre + 'k_idx'] = torch.arange(
                n_bins, dtype=torch.int64).view(1, -1, 1, 1)
            out[pre + 'K_minus_1'] = torch.tensor(
                [float(n_bins - 1)]).view(1, 1, 1, 1)
    return out


def hf_zoedepth_nk_config_overrides(hf_config: Mapping) -> Dict[str, object]:
    """mmzoe ``model`` overrides of the ZoeD_M12_NK model config for a
    transformers ZoeD_NK ``config.json`` (see
    :func:`hf_zoedepth_config_overrides`; same core checks)."""
    bins = hf_config.get('bin_configurations') or []
    single = dict(hf_config, bin_configurations=bins[:1])
    base = hf_zoedepth_config_overrides(single)
    emb = int(hf_config.get('bin_embedding_dim', 128))
    hidden = int(hf_config.get('patch_transformer_hidden_size') or 128)
    if hidden != 128:
        raise ValueError('config.json: patch_transformer_hidden_size '
                         f'{hidden} is not supported (transformers builds '
                         'its router classifier for 128 features).')
    n_layers = int(hf_config.get('num_patch_transformer_layers') or 4)
    if n_layers != 4:
        raise ValueError('config.json: num_patch_transformer_layers '
                         f'{n_layers} is not supported (transformers runs '
                         'exactly 4 router layers).')
    head = base['decode_head']
    return dict(
        backbone=base['backbone'],
        neck=base['neck'],
        decode_head=dict(
            in_channels=head['in_channels'],
            out_conv_channels=head['out_conv_channels'],
            domains=[
                dict(name=str(b['name']), n_bins=int(b['n_bins']),
                     min_depth=float(b['min_depth']),
                     max_depth=float(b['max_depth'])) for b in bins
            ],
            bin_embedding_dim=emb,
            # transformers (as upstream) gives every stage 16 attractors
            n_attractors=[16] * len(head['n_attractors']),
            bin_centers_type=head['bin_centers_type'],
            min_temp=head['min_temp'],
            max_temp=head['max_temp'],
            seed_mlp_dim=emb // 2,
            projector_mlp_dim=emb // 2,
            attractor_mlp_dim=emb,
            router=dict(
                embedding_dim=hidden,
                hidden_dim=hidden,
                num_heads=int(hf_config.get(
                    'patch_transformer_num_attention_heads') or 4),
                num_layers=n_layers,
                feedforward_dim=int(hf_config.get(
                    'patch_transformer_intermediate_size') or 1024))))



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


def _place_depth_anything(key: str, backbone_prefix: str,
                          neck_prefix: str) -> Optional[str]:
    if key in DEPTH_ANYTHING_DROPPED_KEYS:
        return _DROP
    if key.startswith('pretrained.'):
        sub = key[len('pretrained.'):]
        if _DINOV2_KEEP_RE.match(sub):
            return backbone_prefix + sub
    elif key.startswith('depth_head.'):
        sub = key[len('depth_head.'):]
        m = _DA_OUTPUT_CONV_RE.match(sub)
        if m:
            name = _DA_OUTPUT_CONV_NAMES[m.group(1)]
            return f'{neck_prefix}relative_head.{name}.{m.group(2)}'
        if _DA_REASSEMBLE_RE.match(sub):
            return f'{neck_prefix}reassemble.{sub}'
        if sub.startswith('scratch.') and _MIDAS_NECK_RE.match(
                sub[len('scratch.'):]):
            return neck_prefix + sub[len('scratch.'):]
    return None


def _map_depth_anything(state_dict: Mapping[str, torch.Tensor],
                        backbone_prefix: str,
                        neck_prefix: str) -> Tuple[StateDict, List[str]]:
    mapped = _mapping(_place_depth_anything)(state_dict, backbone_prefix,
                                            neck_prefix)
    for pre in ('pretrained.', 'depth_head.'):
        if not any(key.startswith(pre) and
                   key not in DEPTH_ANYTHING_DROPPED_KEYS
                   for key in state_dict):
            raise CheckpointConversionError(
                f'No keys starting with "{pre}" found: not a Depth Anything '
                '(DINOv2 + DPT head) state dict.')
    return mapped


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
    return _placed(
        _map_depth_anything(state_dict, backbone_prefix, neck_prefix),
        'Depth Anything checkpoint')


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
    return _convert_core_and_head(
        state_dict, core_prefix,
        lambda core: _map_depth_anything(core, 'backbone.model.', 'neck.'),
        _map_head, 'Depth Anything metric checkpoint',
        layout='ZoeDepth-layout')
