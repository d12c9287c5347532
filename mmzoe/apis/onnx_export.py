"""ONNX export of a depth estimator's inference path.

The exported graph takes the image and gives the depth at the image size,
the same contract as :func:`mmzoe.apis.inference_depth`:

* input ``image``: (B, 3, H, W) float32 RGB with values in 0..255 (H and W
  dynamic unless fixed at export, B dynamic with ``dynamic_batch``);
* output ``depth``: (B, 1, H, W) float32 metres, clamped to the head's range;
* output ``rel_depth`` (when the neck gives one): the core's relative
  inverse depth at the image size.

Inside, the graph is the model's own code, traced: the data preprocessor's
:meth:`prepare_batch` (resize to the network size, bilinear
``align_corners=True`` on [0, 1], then ``(x - mean) / std``), the
estimator's ``forward_depths`` (optionally flip-averaged) and its
``resize_depth`` (bilinear ``align_corners=True`` back to H x W, clamp).
The training-only auxiliary head is never called. Nothing here depends on
the core: any backbone / neck the estimator accepts is exported the same
way.

Speed switches that are custom autograd functions do not trace into a
correct graph (the fused log-binomial expectation exports silently wrong:
relative error 1.0), so :func:`plain_export_options` switches them to their
plain equivalents in the config before the model is built.
"""
import os
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

from .inference import _expects_bgr

#: Config keys (in any model sub-config) set before export: the plain
#: equivalents of the fused speed switches (same function up to rounding).
#: ``fused_expectation`` (log-binomial head) is a custom autograd function
#: that the exporter traces into a wrong graph; ``attn_impl='sdpa'`` (fused
#: SwinV2 attention) would bake its cached (windows, heads, N, N) position
#: bias into the file; ``with_cp`` is training-only.
EXPORT_PLAIN_SWITCHES: Dict[str, Any] = {
    'fused_expectation': False,
    'attn_impl': 'timm',
    'with_cp': False,
}

#: Keys of the ONNX metadata written by :func:`export_onnx`.
META_PREFIX = 'mmzoe.'

#: The exporter used: torch's TorchScript-based ``torch.onnx.export`` with
#: ``dynamo=False``. The torch.export-based exporter of torch 2.14 fails on
#: this model (clamp with a float bound, a view of the attention output),
#: see docs/deployment.md.
DEFAULT_OPSET = 17

MISSING_DEPS = ('ONNX export/inference needs the optional packages "onnx" '
                'and "onnxruntime": pip install -e ".[deploy]" (or '
                'pip install -r requirements/deploy.txt).')


def require_onnx(*modules: str) -> List[Any]:
    """Import the optional ONNX packages or fail with how to install them.

    Args:
        *modules (str): Module names, e.g. ``'onnx'``, ``'onnxruntime'``.

    Returns:
        list: The imported modules.

    Raises:
        ImportError: With one line naming the missing package.
    """
    import importlib
    out = []
    for name in modules:
        try:
            out.append(importlib.import_module(name))
        except ImportError as err:
            raise ImportError(f'{name} is not installed. {MISSING_DEPS}') \
                from err
    return out


def plain_export_options(cfg: Config) -> Dict[str, Any]:
    """``cfg_options`` switching the model's fused switches to plain ones.

    Walks ``cfg.model`` and returns ``{dotted.key: value}`` for every key of
    :data:`EXPORT_PLAIN_SWITCHES` whose value differs (whatever module
    carries it, so no core-specific code).

    Args:
        cfg (Config): The model config.

    Returns:
        dict: Options for ``Config.merge_from_dict`` / ``init_model``.
    """
    found: Dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = f'{prefix}.{key}'
                if key in EXPORT_PLAIN_SWITCHES and not isinstance(
                        value, dict):
                    if value != EXPORT_PLAIN_SWITCHES[key]:
                        found[name] = EXPORT_PLAIN_SWITCHES[key]
                else:
                    walk(value, name)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                if isinstance(value, dict):  # merge_from_dict takes
                    walk(value, f'{prefix}.{i}')  # list indices as keys

    walk(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(
        cfg.model), 'model')
    return found


class DepthExportWrapper(nn.Module):
    """Image in, depth at the image size out: the traced inference path.

    Args:
        model (nn.Module): A ``ZoeDepthEstimator`` (``data_preprocessor``
            with ``prepare_batch``, ``forward_depths``, ``resize_depth``).
        flip (bool): Average with the flipped input. Defaults to False.
        with_rel (bool): Also output the relative depth. Defaults to True.
    """

    def __init__(self,
                 model: nn.Module,
                 flip: bool = False,
                 with_rel: bool = True) -> None:
        super().__init__()
        for attr in ('forward_depths', 'resize_depth'):
            if not hasattr(model, attr):
                raise TypeError(
                    f'{type(model).__name__} has no "{attr}": only '
                    'ZoeDepthEstimator-like models can be exported.')
        if not hasattr(model.data_preprocessor, 'prepare_batch'):
            raise TypeError(
                f'{type(model.data_preprocessor).__name__} has no '
                '"prepare_batch": use ZoeDepthDataPreProcessor.')
        self.model = model
        self.flip = bool(flip)
        self.with_rel = bool(with_rel)
        self.bgr = _expects_bgr(model)

    def forward(self, image: torch.Tensor):
        """(B, 3, H, W) RGB 0..255 -> depth (B, 1, H, W) [, rel_depth]."""
        size = (image.shape[-2], image.shape[-1])
        if self.bgr:  # the preprocessor swaps back, as for the PyTorch path
            image = image.flip(1)
        x = self.model.data_preprocessor.prepare_batch(image)
        x = x.to(next(self.model.parameters()).dtype)
        outs = self.model.forward_depths(
            x, flip=self.flip, with_rel=self.with_rel)
        depth = self.model.resize_depth(outs['depth'].float(), size)
        if not self.with_rel:
            return depth
        rel = self.model._to_shape(outs['rel_depth'].float(), size)
        return depth, rel


def has_relative_output(model: nn.Module) -> bool:
    """Whether ``forward_depths(with_rel=True)`` works (a core giving
    ``ZoeCoreOutput``)."""
    net = getattr(model.data_preprocessor, 'size', None) or (64, 64)
    x = torch.zeros(1, 3, *net, dtype=next(model.parameters()).dtype)
    try:
        with torch.no_grad():
            model.forward_depths(x, flip=False, with_rel=True)
    except RuntimeError:
        return False
    return True


def test_image(shape: Sequence[int] = (480, 640), seed: int = 0) -> np.ndarray:
    """A deterministic HxWx3 uint8 test image (smooth gradients + noise)."""
    h, w = int(shape[0]), int(shape[1])
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 37 + yy / 23)],
                    -1) * 220
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(
        np.uint8)


def export_onnx(model: nn.Module,
                out_file: str,
                image_shape: Optional[Tuple[int, int]] = None,
                dynamic_batch: bool = False,
                precision: str = 'fp32',
                opset: int = DEFAULT_OPSET,
                flip: bool = False,
                metadata: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Trace the inference path of ``model`` into an ONNX file.

    Args:
        model (nn.Module): The model (built with the plain switches, see
            :func:`plain_export_options`), in eval mode; it is converted to
            half precision in place for ``precision='fp16'``.
        out_file (str): Output ``.onnx`` file.
        image_shape (tuple[int, int], optional): Fix the image size (H, W)
            of the graph. None (default) leaves H and W dynamic.
        dynamic_batch (bool): Leave the batch size dynamic (else 1).
        precision (str): ``'fp32'`` or ``'fp16'`` (the network in half
            precision; input resize, output resize and clamp stay float32,
            so the graph's inputs and outputs are float32 either way).
        opset (int): ONNX opset. Defaults to :data:`DEFAULT_OPSET`.
        flip (bool): Bake flip averaging into the graph.
        metadata (dict, optional): Extra ``metadata_props`` entries.

    Returns:
        dict: ``inputs``/``outputs`` names and the written metadata.
    """
    (onnx, ) = require_onnx('onnx')
    if precision not in ('fp32', 'fp16'):
        raise ValueError(f'precision must be fp32 or fp16, got {precision}.')
    model.eval()
    with_rel = has_relative_output(model)
    if precision == 'fp16':
        model.half()
        model.data_preprocessor.float()  # mean/std: resize-in stays fp32
    wrapper = DepthExportWrapper(model, flip=flip, with_rel=with_rel).eval()
    trace_shape = tuple(image_shape) if image_shape else (480, 640)
    example = torch.from_numpy(
        test_image(trace_shape).transpose(2, 0, 1)[None].astype(np.float32))
    outputs = ['depth', 'rel_depth'] if with_rel else ['depth']
    axes: Dict[str, Dict[int, str]] = {}
    for name in ['image'] + outputs:
        dims = {}
        if dynamic_batch:
            dims[0] = 'batch'
        if not image_shape:
            dims.update({2: 'height', 3: 'width'})
        if dims:
            axes[name] = dims
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # TracerWarnings: the shape checks of the fixed-size core are
        # constants of the graph, as they should be.
        warnings.simplefilter('ignore')
        torch.onnx.export(
            wrapper, (example, ),
            out_file,
            dynamo=False,
            opset_version=int(opset),
            input_names=['image'],
            output_names=outputs,
            dynamic_axes=axes or None,
            do_constant_folding=True)
    net = getattr(model.data_preprocessor, 'size', None)
    meta = {
        'input': 'image: (B, 3, H, W) float32 RGB 0..255',
        'outputs': ','.join(outputs),
        'network_size': 'x'.join(str(s) for s in net) if net else 'image',
        'flip': str(bool(flip)),
        'precision': precision,
        'dynamic_batch': str(bool(dynamic_batch)),
        'image_size': ('x'.join(str(s) for s in image_shape)
                       if image_shape else 'dynamic'),
    }
    meta.update(metadata or {})
    proto = onnx.load(out_file, load_external_data=False)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, str(value)
    onnx.save(proto, out_file)
    onnx.checker.check_model(out_file)
    return dict(inputs=['image'], outputs=outputs, metadata=meta)
