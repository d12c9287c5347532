"""Python inference API: build a ZoeDepth model and predict metric depth.

Example:
    >>> from mmzoe.apis import init_model, inference_depth
    >>> model = init_model('configs/zoedepth/my_config.py', 'model.pth')
    >>> depth = inference_depth(model, 'room.jpg')  # HxW float32, metres
    >>> depth, rel = inference_depth(model, 'room.jpg', return_relative=True)
"""
import contextlib
import copy
import os
import os.path as osp
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.structures import PixelData

from mmzoe.utils.checkpoint_coverage import check_checkpoint_covers_model
from mmzoe.utils.tool_errors import NonFiniteError
from .image_io import check_rgb_array, load_rgb_image

ImageInput = Union[str, os.PathLike, np.ndarray]
DepthOutput = Union[np.ndarray, List[np.ndarray]]

def _strip_init_cfgs(cfg: Config) -> None:
    """Drop pretrained-weight loading from the model config (no network)."""
    model_cfg = cfg.model
    if 'pretrained' in model_cfg:
        model_cfg.pretrained = None
    model_cfg.train_cfg = None
    for key in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
        sub = model_cfg.get(key, None)
        if isinstance(sub, dict) and 'init_cfg' in sub:
            sub['init_cfg'] = None


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a depth model from a config and load its weights for inference.

    Nothing is downloaded: backbone ``init_cfg``/``pretrained`` entries are
    dropped. The checkpoint is read by mmengine's ``load_checkpoint`` (with
    torch's default ``weights_only=True``, after :mod:`mmzoe` registered the
    types MMEngine pickles); a ``module.`` prefix is removed, nothing else.
    Weights of training-only modules (``auxiliary_head``) may be absent; any
    other missing, unexpected or mis-shaped key raises
    :class:`~mmzoe.utils.checkpoint_coverage.CheckpointMismatchError` (the
    rule of :func:`~mmzoe.utils.checkpoint_coverage.
    checkpoint_coverage_problems`, also applied by ``tools/test.py`` and
    ``load_from``).

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint file. None keeps the random
            initialisation (a warning is issued).
        device (str): Device to put the model on. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config
            (``Config.merge_from_dict`` keys, e.g.
            ``{'model.test_cfg.flip': True}``).

    Returns:
        nn.Module: The model in eval mode, with ``model.cfg`` set to the
        config and ``model.dataset_meta`` taken from the checkpoint meta.
    """
    import mmzoe  # noqa: F401  (registers modules and checkpoint globals)

    if isinstance(config, (str, Path)):
        config = str(config)
        if not osp.isfile(config):
            raise FileNotFoundError(f'{config}: config file not found.')
        config = Config.fromfile(config)
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError('config must be a file name or a Config object, got '
                        f'{type(config).__name__}.')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'{config.filename}: the config has no "model".')
    _strip_init_cfgs(config)
    init_default_scope(config.get('default_scope', 'mmzoe'))

    from mmzoe.registry import MODELS
    model = MODELS.build(config.model)

    if checkpoint is None:
        warnings.warn('init_model: no checkpoint given, the model keeps its '
                      'random initialisation (its depth is meaningless).')
    else:
        checkpoint = os.fspath(checkpoint)
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'{checkpoint}: checkpoint not found.')
        try:
            ckpt = load_checkpoint(
                model, checkpoint, map_location='cpu', strict=False)
        except Exception as err:
            raise RuntimeError(
                f'{checkpoint}: could not load the checkpoint: '
                f'{type(err).__name__}: {err}') from err
        state_dict = ckpt.get('state_dict', ckpt) if isinstance(
            ckpt, dict) else ckpt
        check_checkpoint_covers_model(model, state_dict, checkpoint)
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if isinstance(meta, dict) and 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _load_inputs(images: Sequence[ImageInput]) -> Tuple[List[np.ndarray],
                                                         List[Optional[str]]]:
    arrays, paths = [], []
    for i, image in enumerate(images):
        if isinstance(image, (str, os.PathLike)):
            arrays.append(load_rgb_image(image))
            paths.append(os.fspath(image))
        else:
            name = 'image' if len(images) == 1 else f'image {i} of the list'
            arrays.append(check_rgb_array(image, name=name))
            paths.append(None)
    return arrays, paths


def _group_batches(shapes: Sequence[Tuple[int, int]],
                   batch_size: int) -> Iterator[List[int]]:
    """Indices grouped by image size (order kept), chunked to batch_size."""
    groups: 'OrderedDict[Tuple[int, int], List[int]]' = OrderedDict()
    for i, shape in enumerate(shapes):
        groups.setdefault(tuple(shape), []).append(i)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            yield indices[start:start + batch_size]


def _expects_bgr(model: nn.Module) -> bool:
    """Whether the data preprocessor swaps channels (configs fed with BGR)."""
    dp = getattr(model, 'data_preprocessor', None)
    for attr in ('bgr_to_rgb', '_channel_conversion', 'channel_conversion'):
        if bool(getattr(dp, attr, False)):
            return True
    return False


@contextlib.contextmanager
def _test_cfg_override(model: nn.Module, **options) -> Iterator[None]:
    """Temporarily set keys of ``model.test_cfg`` (restored afterwards)."""
    if getattr(model, 'test_cfg', None) is None:
        model.test_cfg = dict(mode='whole')
    test_cfg = model.test_cfg
    saved = {k: (k in test_cfg, test_cfg.get(k, None)) for k in options}
    for key, value in options.items():
        test_cfg[key] = value
    try:
        yield
    finally:
        for key, (had, old) in saved.items():
            if had:
                test_cfg[key] = old
            else:
                test_cfg.pop(key, None)


def _make_batch(model: nn.Module, arrays: List[np.ndarray],
                paths: List[Optional[str]]) -> dict:
    from mmseg.structures import SegDataSample

    bgr = _expects_bgr(model)
    inputs, samples = [], []
    for array, path in zip(arrays, paths):
        img = array[..., ::-1] if bgr else array
        inputs.append(torch.from_numpy(np.ascontiguousarray(
            img.transpose(2, 0, 1))))
        h, w = array.shape[:2]
        meta = dict(ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w),
                    padding_size=[0, 0, 0, 0], flip=False)
        if path is not None:
            meta['img_path'] = path
        samples.append(SegDataSample(metainfo=meta))
    return dict(inputs=inputs, data_samples=samples)


def _name_image(err: NonFiniteError, batch: List[int],
                paths: List[Optional[str]]) -> NonFiniteError:
    """The error of a NaN prediction, naming the input (file or position
    in the caller's list) instead of the position in the batch."""
    if err.index is None or not 0 <= err.index < len(batch):
        return err
    i = batch[err.index]
    name = paths[i] or ('image' if len(paths) == 1 else
                        f'image {i} of the list')
    return NonFiniteError(err.detail, name=name, index=i)


def _to_numpy(depth: Union[torch.Tensor, PixelData]) -> np.ndarray:
    if isinstance(depth, PixelData):
        depth = depth.data
    depth = depth.detach().float().cpu()
    if depth.ndim == 3:
        depth = depth[0]
    return depth.numpy().astype(np.float32, copy=False)


@torch.no_grad()
def inference_depth(model: nn.Module,
                    image: Union[ImageInput, Sequence[ImageInput]],
                    flip: Optional[bool] = None,
                    return_relative: bool = False,
                    batch_size: int = 4
                    ) -> Union[DepthOutput, Tuple[DepthOutput, DepthOutput]]:
    """Predict metric depth (metres) for one image or a list of images.

    Images are RGB. The model's data preprocessor resizes them to the
    network size; the prediction comes back at each input's own resolution
    (bilinear, ``align_corners=True``) clamped to the model's depth range.
    A list is run in batches of images of equal size (order is kept).

    Args:
        model (nn.Module): A model from :func:`init_model`.
        image (str | PathLike | np.ndarray | list): An image file, an HxWx3
            uint8 RGB array, or a list of them.
        flip (bool, optional): Average with the prediction on the
            horizontally flipped image (ZoeDepth's evaluation protocol).
            None (default) follows the model's ``test_cfg.flip`` (False if
            unset, as in the shipped model configs).
        return_relative (bool): Also return the core's relative inverse
            depth (unitless, >= 0, larger = nearer) at the input resolution.
            Defaults to False.
        batch_size (int): Images per forward pass. Defaults to 4.

    Returns:
        np.ndarray | list[np.ndarray] | tuple: HxW float32 metric depth (a
        list for list input); with ``return_relative=True`` a tuple
        ``(depth, relative_depth)`` of the same structure.

    Raises:
        NonFiniteError: If a prediction has a NaN or infinite value (a
            diverged or broken checkpoint); it names the image file (or its
            position in the list) and ``index`` is that position.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    is_list = isinstance(image, (list, tuple))
    images = list(image) if is_list else [image]
    if not images:
        return ([], []) if return_relative else []
    arrays, paths = _load_inputs(images)

    depths: List[Optional[np.ndarray]] = [None] * len(arrays)
    rels: List[Optional[np.ndarray]] = [None] * len(arrays)
    was_training = model.training
    model.eval()
    try:
        # test_cfg.rel_depth: the estimator writes pred_rel_depth, the
        # core's relative depth of the same forward pass.
        if flip is None:
            flip = bool((getattr(model, 'test_cfg', None) or {}).get(
                'flip', False))
        with _test_cfg_override(model, flip=bool(flip),
                                rel_depth=bool(return_relative)):
            for idx in _group_batches([a.shape[:2] for a in arrays],
                                      batch_size):
                data = _make_batch(model, [arrays[i] for i in idx],
                                   [paths[i] for i in idx])
                try:
                    results = model.test_step(data)
                except NonFiniteError as err:
                    raise _name_image(err, idx, paths) from None
                for i, result in zip(idx, results):
                    depths[i] = _to_numpy(result.pred_depth_map)
                    if return_relative:
                        if 'pred_rel_depth' not in result:
                            raise RuntimeError(
                                f'{type(model).__name__} wrote no '
                                'pred_rel_depth with test_cfg.rel_depth=True;'
                                ' return_relative needs a ZoeDepthEstimator '
                                '(a core giving ZoeCoreOutput).')
                        rels[i] = _to_numpy(result.pred_rel_depth)
    finally:
        model.train(was_training)

    for i, (array, depth) in enumerate(zip(arrays, depths)):
        if depth.shape != array.shape[:2]:
            raise RuntimeError(
                f'The model returned depth of shape {depth.shape} for '
                f'{paths[i] or f"image {i}"} of size {array.shape[:2]}; '
                'expected the input resolution.')
    if return_relative:
        return (depths, rels) if is_list else (depths[0], rels[0])
    return depths if is_list else depths[0]
