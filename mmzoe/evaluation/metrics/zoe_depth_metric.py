"""ZoeDepth evaluation protocol (per-image depth metrics averaged over
images)."""
import csv
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmzoe.registry import METRICS
from mmzoe.utils.tool_errors import ToolInputError

ALL_METRICS = ('a1', 'a2', 'a3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log',
               'log_10', 'silog')
CROPS = ('eigen', 'kitti_eigen', 'garg', None)

# (top, bottom, left, right) as fractions of (H, H, W, W)
# (docs/upstream_facts.md)
_KITTI_EIGEN = (0.3324324, 0.91351351, 0.0359477, 0.96405229)
_GARG = (0.40810811, 0.99189189, 0.03594771, 0.96405229)
_NYU_EIGEN_480x640 = (45, 471, 41, 601)


def crop_window(h: int,
                w: int,
                crop: Optional[str],
                rescale_eigen_crop: bool = False
                ) -> Optional[Tuple[int, int, int, int]]:
    """Crop window ``(top, bottom, left, right)`` on an HxW ground truth.

    Args:
        h (int): GT height.
        w (int): GT width.
        crop (str, optional): ``'eigen'`` (NYU rows 45:471, cols 41:601 of
            a 480x640 GT), ``'kitti_eigen'``, ``'garg'`` or None.
        rescale_eigen_crop (bool): for ``'eigen'`` on a GT that is not
            480x640, scale the window by ``(H/480, W/640)`` (rounded down)
            instead of raising. Defaults to False.

    Returns:
        tuple | None: the window, None for no crop.
    """
    if crop is None:
        return None
    if crop == 'eigen':
        t, b, l, r = _NYU_EIGEN_480x640
        if (h, w) == (480, 640):
            return t, b, l, r
        if not rescale_eigen_crop:
            raise ValueError(
                f"crop='eigen' is defined on 480x640 ground truth, got "
                f'{h}x{w}; set rescale_eigen_crop=True to scale the window '
                "or use crop=None/'garg'/'kitti_eigen'")
        return (int(t * h / 480), int(b * h / 480), int(l * w / 640),
                int(r * w / 640))
    if crop in ('kitti_eigen', 'garg'):
        t, b, l, r = _KITTI_EIGEN if crop == 'kitti_eigen' else _GARG
        return int(t * h), int(b * h), int(l * w), int(r * w)
    raise ValueError(f'crop must be one of {CROPS}, got {crop!r}')


def per_image_depth_metrics(gt: torch.Tensor,
                            pred: torch.Tensor) -> Dict[str, float]:
    """ZoeDepth's ``compute_errors`` on the valid pixels of one image.

    Args:
        gt (Tensor): 1-D valid ground-truth depths (> 0).
        pred (Tensor): 1-D predictions at the same pixels (> 0).

    Returns:
        dict[str, float]: all metrics of :data:`ALL_METRICS`.
    """
    gt = gt.double()
    pred = pred.double()
    thresh = torch.maximum(gt / pred, pred / gt)
    diff = gt - pred
    log_diff = torch.log(pred) - torch.log(gt)
    silog_var = (log_diff**2).mean() - log_diff.mean()**2
    return dict(
        a1=(thresh < 1.25).double().mean().item(),
        a2=(thresh < 1.25**2).double().mean().item(),
        a3=(thresh < 1.25**3).double().mean().item(),
        abs_rel=(diff.abs() / gt).mean().item(),
        sq_rel=(diff**2 / gt).mean().item(),
        rmse=torch.sqrt((diff**2).mean()).item(),
        rmse_log=torch.sqrt((log_diff**2).mean()).item(),
        log_10=(torch.log10(gt) - torch.log10(pred)).abs().mean().item(),
        silog=100.0 * torch.sqrt(silog_var.clamp(min=0)).item())


class EmptyEvaluationError(ToolInputError, ValueError):
    """No image of the evaluated set has a valid ground-truth pixel."""


def _field(sample, name: str):
    """``sample[name]['data']`` for dict samples, ``.data`` for objects."""
    if isinstance(sample, dict):
        item = sample.get(name)
        if item is None:
            return None
        return item['data'] if isinstance(item, dict) else item.data
    item = getattr(sample, name, None)
    return None if item is None else item.data


def _meta(sample, key: str, default=None):
    if isinstance(sample, dict):
        return sample.get(key, default)
    return sample.metainfo.get(key, default)


@METRICS.register_module()
class ZoeDepthMetric(BaseMetric):
    """Depth metrics with the ZoeDepth protocol (docs/upstream_facts.md).

    Per image: the prediction is resized to the GT size (bilinear,
    ``align_corners=True``) if the sizes differ, clipped to
    ``[min_depth, max_depth]`` (+inf -> max, NaN and -inf -> min), optionally
    median-scaled; valid pixels are ``min_depth < gt < max_depth`` (strict)
    inside the crop window. The metrics (``a1 a2 a3 abs_rel sq_rel rmse
    rmse_log log_10 silog``, silog = 100·sqrt(mean(e²) − mean(e)²),
    e = ln pred − ln gt) are computed per image and averaged over images.
    Images without any valid pixel are skipped and counted in the log; if
    no image of the whole set has one, :meth:`evaluate` (on every rank) and
    :meth:`compute_metrics` raise :class:`EmptyEvaluationError` (the tools
    print it as one line and exit with code 2) instead of reporting NaN.
    Only per-image numbers are kept between ``process`` and
    ``compute_metrics``, so distributed collection stays cheap.

    Args:
        min_depth (float): lower evaluation bound. Defaults to 1e-3.
        max_depth (float): upper evaluation bound. Defaults to 10.
        crop (str, optional): ``'eigen'`` (NYU/iBims, 480x640 GT),
            ``'kitti_eigen'``, ``'garg'`` or None. Defaults to 'eigen'.
        metrics (Sequence[str], optional): metrics to report. Defaults to
            all of :data:`ALL_METRICS`.
        median_scaling (bool): scale each prediction by
            ``median(gt) / median(pred)`` over its valid pixels (then clip
            again). Defaults to False (metric depth).
        rescale_eigen_crop (bool): see :func:`crop_window`.
        output_dir (str, optional): if set, write
            ``per_image_metrics.csv`` (image path, valid pixel count, each
            metric) there.
        keep_results (bool): accepted for MMSegmentation's
            ``tools/test.py --out DIR``, which sets it together with
            ``output_dir``; the per-image CSV is always kept, so it changes
            nothing. Defaults to False.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): prefix of the metric names. Defaults to
            :attr:`default_prefix`, ``''``: the names stay ``a1``,
            ``abs_rel``, ... (what ``save_best='abs_rel'`` and ZoeDepth's
            tables use).
        **kwargs: further :class:`mmengine.evaluator.BaseMetric` arguments
            (``collect_dir``).
    """

    # Deliberately no prefix (not None: MMEngine warns about a missing one).
    default_prefix: Optional[str] = ''

    def __init__(self,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 crop: Optional[str] = 'eigen',
                 metrics: Optional[Sequence[str]] = None,
                 median_scaling: bool = False,
                 rescale_eigen_crop: bool = False,
                 output_dir: Optional[str] = None,
                 keep_results: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         **kwargs)
        if not min_depth < max_depth:
            raise ValueError(f'min_depth ({min_depth}) must be < max_depth '
                             f'({max_depth})')
        if crop not in CROPS:
            raise ValueError(f'crop must be one of {CROPS}, got {crop!r}')
        if metrics is None:
            metrics = ALL_METRICS
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in ALL_METRICS]
        if unknown or not metrics:
            raise ValueError(f'unknown metrics {unknown}; choose from '
                             f'{ALL_METRICS}')
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.crop = crop
        self.metrics = tuple(metrics)
        self.median_scaling = median_scaling
        self.rescale_eigen_crop = rescale_eigen_crop
        self.output_dir = output_dir
        self.keep_results = bool(keep_results)

    # ------------------------------------------------------------ per image
    def prepare(self, pred: torch.Tensor,
                gt: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Resize + clip the prediction and build the valid mask.

        Args:
            pred (Tensor): prediction, HxW or 1xHxW (metres).
            gt (Tensor): ground truth, HxW or 1xHxW (metres, 0 = invalid).

        Returns:
            tuple: ``(pred, valid)``, both HxW on the GT grid.
        """
        pred = torch.as_tensor(pred).detach().float().cpu()
        gt = torch.as_tensor(gt).detach().float().cpu()
        if gt.dim() == 3:
            gt = gt[0]
        if pred.dim() == 3:
            pred = pred[0]
        if gt.dim() != 2 or pred.dim() != 2:
            raise ValueError(f'expected single-channel maps, got pred '
                             f'{tuple(pred.shape)} and gt {tuple(gt.shape)}')
        if pred.shape != gt.shape:
            pred = F.interpolate(pred[None, None], size=gt.shape,
                                 mode='bilinear', align_corners=True)[0, 0]
        pred = pred.clone()
        pred[pred < self.min_depth] = self.min_depth
        pred[pred > self.max_depth] = self.max_depth
        pred[torch.isinf(pred)] = self.max_depth
        pred[torch.isnan(pred)] = self.min_depth
        valid = (gt > self.min_depth) & (gt < self.max_depth)
        window = crop_window(gt.shape[0], gt.shape[1], self.crop,
                             self.rescale_eigen_crop)
        if window is not None:
            t, b, l, r = window
            crop_mask = torch.zeros_like(valid)
            crop_mask[t:b, l:r] = True
            valid &= crop_mask
        return pred, valid

    def evaluate_image(self, pred: torch.Tensor,
                       gt: torch.Tensor) -> Optional[Dict[str, float]]:
        """Metrics of one image; None if it has no valid pixel."""
        pred, valid = self.prepare(pred, gt)
        gt = torch.as_tensor(gt).detach().float().cpu().reshape(pred.shape)
        if not bool(valid.any()):
            return None
        gt_v, pred_v = gt[valid], pred[valid]
        if self.median_scaling:
            ratio = gt_v.double().median() / pred_v.double().median()
            pred_v = (pred_v.double() * ratio).clamp(self.min_depth,
                                                     self.max_depth)
        values = per_image_depth_metrics(gt_v, pred_v)
        values['n_valid'] = int(valid.sum())
        return values

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep the per-image metrics of a batch (small results only)."""
        for sample in data_samples:
            img_path = _meta(sample, 'img_path', '')
            pred = _field(sample, 'pred_depth_map')
            gt = _field(sample, 'gt_depth_map')
            if pred is None:
                raise KeyError(f'{img_path}: data sample has no '
                               'pred_depth_map')
            values = None if gt is None else self.evaluate_image(pred, gt)
            if values is None:
                self.results.append(dict(img_path=img_path, skipped=True))
            else:
                values.update(img_path=img_path, skipped=False)
                self.results.append(values)

    # ------------------------------------------------------------ dataset
    def _empty_error(self, num_images: int) -> EmptyEvaluationError:
        crop = self.crop if self.crop else 'none'
        return EmptyEvaluationError(
            f'ZoeDepthMetric: none of the {num_images} evaluated images has '
            f'a valid ground-truth pixel ({self.min_depth} < gt < '
            f'{self.max_depth}, crop = {crop}); check the depth files, their '
            'scale and min_depth/max_depth')

    def evaluate(self, size: int) -> dict:
        """Collect the results of all ranks and compute the metrics.

        Args:
            size (int): Length of the whole evaluated dataset.

        Returns:
            dict: The metrics.
        """
        # Decided on every rank (not only in compute_metrics on rank 0), so
        # that no rank waits for a broadcast that never comes.
        counts = torch.tensor(
            [sum(not r['skipped'] for r in self.results),
             len(self.results)], dtype=torch.float64)
        all_reduce(counts, op='sum')
        if counts[0] == 0:
            self.results.clear()
            raise self._empty_error(min(int(counts[1]), size))
        return super().evaluate(size)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image metrics over the evaluated images."""
        used = [r for r in results if not r['skipped']]
        skipped = len(results) - len(used)
        if not used:
            raise self._empty_error(len(results))
        crop = self.crop if self.crop else 'none'
        print_log(
            f'ZoeDepthMetric protocol: {len(used)} images evaluated, '
            f'{skipped} skipped (no valid GT pixel); valid = {self.min_depth}'
            f' < gt < {self.max_depth}, crop = {crop}, prediction resized to '
            'GT (bilinear, align_corners=True) and clipped to '
            f'[{self.min_depth}, {self.max_depth}], median scaling '
            f'{"on" if self.median_scaling else "off"}; per-image metrics '
            'averaged over images', logger='current')
        if self.output_dir:
            self._write_csv(results)
        out = OrderedDict()
        for name in self.metrics:
            out[name] = float(np.mean([r[name] for r in used]))
        return out

    def _write_csv(self, results: List[dict]) -> None:
        os.makedirs(self.output_dir, exist_ok=True)
        path = osp.join(self.output_dir, 'per_image_metrics.csv')
        with open(path, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(['img_path', 'n_valid', *self.metrics])
            for r in results:
                if r['skipped']:
                    writer.writerow([r['img_path'], 0] +
                                    [''] * len(self.metrics))
                else:
                    writer.writerow([r['img_path'], r['n_valid']] +
                                    [f'{r[m]:.6f}' for m in self.metrics])
        print_log(f'ZoeDepthMetric: per-image metrics written to {path}',
                  logger='current')
