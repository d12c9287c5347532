"""Data preprocessor doing ZoeDepth's in-model input transform."""
import math
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from mmzoe.registry import MODELS


@MODELS.register_module()
class ZoeDepthDataPreProcessor(BaseDataPreprocessor):
    """Resize-then-normalise preprocessor of ZoeDepth (docs/upstream_facts.md).

    Per image: cast to float, divide by 255, optionally swap BGR to RGB,
    bilinear resize (``align_corners=True``) to ``size`` (the fixed network
    size), then ``(x - mean) / std``; the images are then stacked.

    Ground truth stays at its full resolution in the data samples. In
    training, if the GT maps of a batch differ in size, they are padded at
    the bottom/right to the largest one, depth with ``depth_pad_val`` (0 =
    invalid) and labels with ``seg_pad_val`` (255 = ignore); the unpadded
    sizes are kept in the metainfo keys ``gt_depth_shape`` / ``gt_seg_shape``
    (``ZoeDepthHead`` crops the GT back to them before resizing the
    prediction). Validation/test GT is never
    touched (metrics compare each sample at its own size).

    Metainfo: ``ori_shape`` is kept (predictions are resized back to it);
    ``img_shape``, ``pad_shape`` and ``batch_input_shape`` become the network
    input size.

    Args:
        size (tuple[int, int], optional): Network input (H, W). None keeps the
            image size (then all images of a batch must have the same size).
            Defaults to (384, 384).
        mean (Sequence[Number]): Per-channel mean in [0, 1] units.
            Defaults to (0.5, 0.5, 0.5) (MiDaS).
        std (Sequence[Number]): Per-channel std in [0, 1] units.
            Defaults to (0.5, 0.5, 0.5).
        bgr_to_rgb (bool): Reverse the channel order (for mmseg's
            ``LoadImageFromFile``, which gives BGR). Defaults to False (mmzoe
            loaders give RGB).
        pixel_scale (float): Divisor bringing inputs to [0, 1].
            Defaults to 255.
        align_corners (bool): Resize flag. Defaults to True (upstream).
        depth_pad_val (float): Padding value of ``gt_depth_map``.
            Defaults to 0.
        seg_pad_val (int): Padding value of ``gt_sem_seg``. Defaults to 255.
        non_blocking (bool): Passed to :meth:`cast_data`.
        keep_ratio (bool): Keep each image's aspect ratio instead of
            squashing it to ``size`` (see ``resize_method``). Defaults to
            False.
        resize_method (str): How ``size`` bounds the output, as in MiDaS /
            Depth Anything's ``Resize``: ``'lower_bound'`` (at least
            ``size``), ``'upper_bound'`` (at most ``size``) or ``'minimal'``
            (scale as little as possible). Defaults to ``'lower_bound'``.
        size_divisor (int): Round the network height and width to multiples
            of this (upstream's ``ensure_multiple_of``; 14 for DINOv2
            cores): to the nearest multiple (ties to even), then down if
            above an upper bound or up if below a lower bound. Defaults to 1.
        interpolation (str): ``'bilinear'`` (default) or ``'bicubic'``
            (Depth Anything V2's OpenCV ``INTER_CUBIC``; use it with
            ``align_corners=False``).
    """

    def __init__(self,
                 size: Optional[Tuple[int, int]] = (384, 384),
                 mean: Sequence[Number] = (0.5, 0.5, 0.5),
                 std: Sequence[Number] = (0.5, 0.5, 0.5),
                 bgr_to_rgb: bool = False,
                 pixel_scale: float = 255.0,
                 align_corners: bool = True,
                 depth_pad_val: float = 0.0,
                 seg_pad_val: int = 255,
                 non_blocking: bool = False,
                 keep_ratio: bool = False,
                 resize_method: str = 'lower_bound',
                 size_divisor: int = 1,
                 interpolation: str = 'bilinear') -> None:
        super().__init__(non_blocking=non_blocking)
        if resize_method not in ('lower_bound', 'upper_bound', 'minimal'):
            raise ValueError(
                "resize_method must be 'lower_bound', 'upper_bound' or "
                f"'minimal', got {resize_method!r}.")
        if interpolation not in ('bilinear', 'bicubic'):
            raise ValueError("interpolation must be 'bilinear' or "
                             f"'bicubic', got {interpolation!r}.")
        if int(size_divisor) < 1:
            raise ValueError(
                f'size_divisor must be >= 1, got {size_divisor}.')
        if (keep_ratio or int(size_divisor) > 1) and size is None:
            raise ValueError('keep_ratio / size_divisor need a size.')
        self.keep_ratio = bool(keep_ratio)
        self.resize_method = resize_method
        self.size_divisor = int(size_divisor)
        self.interpolation = interpolation
        if size is not None:
            if isinstance(size, int):
                size = (size, size)
            size = tuple(int(s) for s in size)
            if len(size) != 2 or min(size) <= 0:
                raise ValueError(f'size must be (H, W) > 0, got {size}.')
        if len(mean) != len(std):
            raise ValueError('mean and std must have the same length.')
        if any(float(s) == 0 for s in std):
            raise ValueError(f'std must be non-zero, got {std}.')
        self.size = size
        self.bgr_to_rgb = bgr_to_rgb
        self.pixel_scale = float(pixel_scale)
        self.align_corners = align_corners
        self.depth_pad_val = depth_pad_val
        self.seg_pad_val = seg_pad_val
        self.register_buffer('mean',
                             torch.tensor(mean, dtype=torch.float32).view(
                                 -1, 1, 1), False)
        self.register_buffer('std',
                             torch.tensor(std, dtype=torch.float32).view(
                                 -1, 1, 1), False)

    def _prepare(self, img: torch.Tensor) -> torch.Tensor:
        """(C, H, W) raw image -> (C, h, w) normalised network input."""
        if img.dim() != 3:
            raise ValueError(
                f'Expected a (C, H, W) image, got shape {tuple(img.shape)}.')
        if img.shape[0] != self.mean.shape[0]:
            raise ValueError(
                f'Image has {img.shape[0]} channels, mean/std have '
                f'{self.mean.shape[0]} (is the image HWC instead of CHW?).')
        return self.prepare_batch(img[None])[0]

    def network_size(self, height: int,
                     width: int) -> Optional[Tuple[int, int]]:
        """Network input (H, W) for an image of ``height`` x ``width``.

        Args:
            height (int): Image height.
            width (int): Image width.

        Returns:
            tuple[int, int] | None: ``size`` itself unless ``keep_ratio`` or
            ``size_divisor`` is set (then upstream's ``Resize.get_size``);
            None if ``size`` is None.
        """
        if self.size is None:
            return None
        if not self.keep_ratio and self.size_divisor == 1:
            return self.size
        target_h, target_w = self.size
        scale_h, scale_w = target_h / height, target_w / width
        method = self.resize_method
        if self.keep_ratio:
            if method == 'lower_bound':
                scale = max(scale_h, scale_w)
            elif method == 'upper_bound':
                scale = min(scale_h, scale_w)
            else:  # minimal: the factor closer to 1
                scale = scale_w if abs(1 - scale_w) < abs(1 - scale_h) \
                    else scale_h
            scale_h = scale_w = scale
        return (self._to_multiple(scale_h * height, target_h),
                self._to_multiple(scale_w * width, target_w))

    def _to_multiple(self, x: float, bound: int) -> int:
        """Round ``x`` to a multiple of ``size_divisor`` within ``bound``."""
        m = self.size_divisor
        y = int(round(x / m) * m)
        if self.resize_method == 'upper_bound' and y > bound:
            y = int(math.floor(x / m) * m)
        if self.resize_method == 'lower_bound' and y < bound:
            y = int(math.ceil(x / m) * m)
        return y

    def prepare_batch(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) raw images -> (B, C, h, w) normalised network input.

        The transform of :meth:`forward` on a stacked batch, in tensor
        operations only (no metainfo), so that it can be traced: the ONNX
        export puts it into the graph (``mmzoe.apis.onnx_export``).

        Args:
            imgs (Tensor): Images with values in [0, pixel_scale].

        Returns:
            Tensor: Float images at ``size`` (bilinear), ``(x - mean) / std``.
        """
        imgs = imgs.float() / self.pixel_scale
        if self.bgr_to_rgb:
            imgs = imgs.flip(1)
        size = self.network_size(*imgs.shape[-2:])
        if size is not None and (torch.jit.is_tracing()
                                 or tuple(imgs.shape[-2:]) != size):
            # when traced, the resize stays in the graph for any image size
            # (with keep_ratio: the size of the traced image)
            imgs = F.interpolate(
                imgs,
                size=size,
                mode=self.interpolation,
                align_corners=self.align_corners)
        return (imgs - self.mean) / self.std

    def _pad_gt(self, data_samples: List[Any]) -> None:
        """Pad GT maps of different sizes (depth: 0, labels: 255)."""
        for field, pad_val, meta_key in (
                ('gt_depth_map', self.depth_pad_val, 'gt_depth_shape'),
                ('gt_sem_seg', self.seg_pad_val, 'gt_seg_shape')):
            maps = [getattr(s, field, None) for s in data_samples]
            if any(m is None for m in maps):
                continue
            shapes = [tuple(m.data.shape[-2:]) for m in maps]
            max_h = max(s[0] for s in shapes)
            max_w = max(s[1] for s in shapes)
            for sample, m, (h, w) in zip(data_samples, maps, shapes):
                sample.set_metainfo({meta_key: (h, w)})
                if (h, w) == (max_h, max_w):
                    continue
                padded = F.pad(
                    m.data, (0, max_w - w, 0, max_h - h), value=pad_val)
                setattr(sample, field, PixelData(data=padded))

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Preprocess a batch.

        Args:
            data (dict): ``inputs`` (list of (C, H, W) tensors or a
                (B, C, H, W) tensor, values in [0, pixel_scale]) and
                optionally ``data_samples``.
            training (bool): Whether in training mode.

        Returns:
            dict: ``inputs`` (B, C, h, w) float tensor and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs: Union[torch.Tensor, List[torch.Tensor]] = data['inputs']
        data_samples = data.get('data_samples', None)
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 3:
            inputs = [inputs]
        imgs = [self._prepare(img) for img in inputs]
        shapes = {tuple(img.shape) for img in imgs}
        if len(shapes) != 1:
            raise ValueError(
                'Images of a batch have different sizes '
                f'{sorted(shapes)}; set size=(H, W) in '
                'ZoeDepthDataPreProcessor to resize them to the network size.')
        batch = torch.stack(imgs, dim=0)
        if data_samples is not None:
            net_shape = tuple(batch.shape[-2:])
            for sample, img in zip(data_samples, inputs):
                meta = dict(
                    img_shape=net_shape,
                    pad_shape=net_shape,
                    batch_input_shape=net_shape)
                if 'ori_shape' not in sample.metainfo:
                    meta['ori_shape'] = tuple(img.shape[-2:])
                sample.set_metainfo(meta)
            if training:
                self._pad_gt(data_samples)
        return dict(inputs=batch, data_samples=data_samples)
