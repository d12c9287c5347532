"""ONNX Runtime backend of the inference API.

Example:
    >>> from mmzoe.apis import OnnxDepthPredictor
    >>> predictor = OnnxDepthPredictor('zoe.onnx')
    >>> depth = predictor('room.jpg')            # HxW float32, metres
    >>> depth, rel = predictor(['a.jpg', 'b.png'], return_relative=True)

The graph (from ``tools/deployment/pytorch2onnx.py``) holds the whole
inference path of the PyTorch model, input resize and output resize
included (see :mod:`mmzoe.apis.onnx_export`), so this class only hands over
the images: loading and checking, batching by size and the output checks
are the functions of :func:`mmzoe.apis.inference_depth`. NaN/inf depth
raises :class:`~mmzoe.utils.tool_errors.NonFiniteError` naming the image.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmzoe.utils.tool_errors import NonFiniteError
from .inference import (DepthOutput, ImageInput, _group_batches,
                        _load_inputs)
from .onnx_export import META_PREFIX, require_onnx


class OnnxDepthPredictor:
    """Metric depth with ONNX Runtime, with the outputs of the PyTorch path.

    Args:
        model_file (str): An ``.onnx`` file written by
            ``tools/deployment/pytorch2onnx.py``.
        providers (Sequence[str], optional): ONNX Runtime execution
            providers. Defaults to ``['CPUExecutionProvider']``.
        num_threads (int, optional): Intra-op threads (ONNX Runtime's
            default when None: one per physical core).
        batch_size (int): Images per run when the graph has a dynamic batch
            (a graph exported for batch 1 always runs one image). Defaults
            to 4.
    """

    def __init__(self,
                 model_file: Union[str, os.PathLike],
                 providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None,
                 batch_size: int = 4) -> None:
        (ort, ) = require_onnx('onnxruntime')
        model_file = os.fspath(model_file)
        if not osp.isfile(model_file):
            raise FileNotFoundError(f'{model_file}: ONNX model not found.')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        options = ort.SessionOptions()
        options.log_severity_level = 3  # no constant-folding chatter
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        try:
            self.session = ort.InferenceSession(
                model_file, sess_options=options,
                providers=list(providers or ['CPUExecutionProvider']))
        except Exception as err:  # onnxruntime raises its own types
            raise RuntimeError(f'{model_file}: ONNX Runtime cannot load it: '
                               f'{type(err).__name__}: {err}') from err
        self.model_file = model_file
        inputs = self.session.get_inputs()
        names = [o.name for o in self.session.get_outputs()]
        if [i.name for i in inputs] != ['image'] or 'depth' not in names:
            raise RuntimeError(
                f'{model_file}: not an mmzoe depth graph (inputs '
                f'{[i.name for i in inputs]}, outputs {names}); export it '
                'with tools/deployment/pytorch2onnx.py.')
        self.output_names = names
        shape = inputs[0].shape
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.fixed_size = (tuple(shape[2:]) if all(
            isinstance(s, int) for s in shape[2:]) else None)
        self.batch_size = (batch_size if self.fixed_batch is None else
                           self.fixed_batch)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata: Dict[str, str] = {
            k[len(META_PREFIX):]: v
            for k, v in meta.items() if k.startswith(META_PREFIX)
        }
        self.flip = self.metadata.get('flip', 'False') == 'True'

    @property
    def has_relative(self) -> bool:
        """Whether the graph also gives the relative depth."""
        return 'rel_depth' in self.output_names

    def _run(self, arrays: List[np.ndarray],
             names: List[str]) -> Tuple[np.ndarray, ...]:
        batch = np.stack([a.transpose(2, 0, 1) for a in arrays]).astype(
            np.float32)
        return self.session.run(names, {'image': batch})

    def __call__(self,
                 image: Union[ImageInput, Sequence[ImageInput]],
                 flip: Optional[bool] = None,
                 return_relative: bool = False,
                 batch_size: Optional[int] = None
                 ) -> Union[DepthOutput, Tuple[DepthOutput, DepthOutput]]:
        """Predict metric depth (metres), as :func:`inference_depth`.

        Args:
            image (str | PathLike | np.ndarray | list): An image file, an
                HxWx3 uint8 RGB array, or a list of them.
            flip (bool, optional): Must match the export (flip averaging is
                part of the graph); None uses the graph as exported.
            return_relative (bool): Also return the relative inverse depth.
            batch_size (int, optional): Images per run (dynamic-batch graphs
                only). Defaults to the constructor's.

        Returns:
            np.ndarray | list[np.ndarray] | tuple: As
            :func:`mmzoe.apis.inference_depth`.
        """
        if flip is not None and bool(flip) != self.flip:
            raise ValueError(
                f'{self.model_file} was exported with flip={self.flip}; '
                f'flip={bool(flip)} needs a re-export '
                f'({"with" if flip else "without"} --flip).')
        if return_relative and not self.has_relative:
            raise ValueError(f'{self.model_file} has no rel_depth output.')
        is_list = isinstance(image, (list, tuple))
        images = list(image) if is_list else [image]
        if not images:
            return ([], []) if return_relative else []
        arrays, paths = _load_inputs(images)
        if self.fixed_size is not None:
            for array, path in zip(arrays, paths):
                if array.shape[:2] != self.fixed_size:
                    raise ValueError(
                        f'{path or "image"}: size {array.shape[:2]}, but '
                        f'{self.model_file} was exported for '
                        f'{self.fixed_size} (export without --shape for any '
                        'size).')
        size = self.batch_size if self.fixed_batch is not None else (
            batch_size or self.batch_size)
        names = ['depth', 'rel_depth'] if return_relative else ['depth']
        depths: List[Optional[np.ndarray]] = [None] * len(arrays)
        rels: List[Optional[np.ndarray]] = [None] * len(arrays)
        for idx in _group_batches([a.shape[:2] for a in arrays], size):
            chunk = [arrays[i] for i in idx]
            pad = (self.fixed_batch or len(chunk)) - len(chunk)
            outs = self._run(chunk + [chunk[-1]] * pad, names)
            for j, i in enumerate(idx):
                depths[i] = outs[0][j, 0]
                if return_relative:
                    rels[i] = outs[1][j, 0]
                if not np.isfinite(depths[i]).all():
                    bad = int((~np.isfinite(depths[i])).sum())
                    raise NonFiniteError(
                        f'the ONNX model predicted {bad} NaN/inf depth '
                        f'value(s) of {depths[i].size}',
                        name=paths[i] or f'image {i} of the list', index=i)
        if return_relative:
            return (depths, rels) if is_list else (depths[0], rels[0])
        return depths if is_list else depths[0]

    predict = __call__
