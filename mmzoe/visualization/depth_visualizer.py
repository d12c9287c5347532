"""A visualizer drawing depth panels with a fixed metric colour range."""
from typing import Optional

import cv2
import numpy as np
import torch
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmzoe.registry import VISUALIZERS
from .panel import make_depth_panel


def _pixel_data(sample: SegDataSample, key: str) -> Optional[np.ndarray]:
    """``sample.<key>.data`` as a numpy array (tensor or array data: mmseg's
    ``browse_dataset.py`` passes ``data_sample.numpy()``)."""
    if key not in sample:
        return None
    data = getattr(sample, key).data
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    return np.asarray(data)


@VISUALIZERS.register_module()
class ZoeDepthVisualizer(SegLocalVisualizer):
    """mmseg's local visualizer with ZoeDepth panels for depth samples.

    For a data sample with ``pred_depth_map`` (or ``gt_depth_map``),
    :meth:`add_datasample` draws ``RGB | relative | GT | prediction`` with
    a FIXED ``[vmin, vmax]`` range and a colour bar in metres (mmseg's
    visualizer normalises every depth map by its own min/max, so colours
    are not comparable). ``pred_rel_depth`` is shown when the model wrote it
    (``test_cfg.rel_depth=True``); ``gt_sem_seg`` adds a ``labels`` tile
    coloured with ``dataset_meta['palette']`` (when the visualizer has
    one). Depth data may be tensors or arrays (``data_sample.numpy()``, as
    mmseg's ``browse_dataset.py`` gives). Segmentation samples fall back to
    mmseg.
    Works with mmseg's ``SegVisualizationHook`` (``tools/test.py
    --show-dir``).

    Args:
        name (str): Instance name (mmengine ``ManagerMixin``).
        vmin (float): Metric range start in metres. Defaults to 0.
        vmax (float): Metric range end in metres. Defaults to 10.
        cmap (str): Colour map. Defaults to ``'inferno'``.
        **kwargs: :class:`SegLocalVisualizer` arguments (``vis_backends``,
            ``save_dir``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 vmin: float = 0.0,
                 vmax: float = 10.0,
                 cmap: str = 'inferno',
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not vmax > vmin:
            raise ValueError(f'vmax ({vmax}) must be larger than vmin '
                             f'({vmin}).')
        self.vmin = vmin
        self.vmax = vmax
        self.cmap = cmap

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a depth panel and save it to all backends (or ``out_file``).

        Args:
            name (str): Image identifier.
            image (np.ndarray): HxWx3 uint8 RGB image.
            data_sample (SegDataSample, optional): Sample with
                ``pred_depth_map`` / ``gt_depth_map`` / ``pred_rel_depth``.
            draw_gt (bool): Draw the GT tile. Defaults to True.
            draw_pred (bool): Draw the prediction tile. Defaults to True.
            show (bool): Display the panel. Defaults to False.
            wait_time (float): Display time in seconds. Defaults to 0.
            out_file (str, optional): Write the panel there instead of the
                vis backends.
            step (int): Global step. Defaults to 0.
            with_labels (bool): Used for segmentation samples only.
        """
        if data_sample is None or not ('pred_depth_map' in data_sample
                                       or 'gt_depth_map' in data_sample):
            return super().add_datasample(name, image, data_sample, draw_gt,
                                          draw_pred, show, wait_time,
                                          out_file, step, with_labels)
        pred = _pixel_data(data_sample, 'pred_depth_map') if draw_pred \
            else None
        gt = _pixel_data(data_sample, 'gt_depth_map') if draw_gt else None
        rel = _pixel_data(data_sample, 'pred_rel_depth') if draw_pred \
            else None
        if pred is None:  # GT only: show it in the prediction slot's place
            pred, gt = gt, None
            titles = dict(pred='ground truth')
        else:
            titles = None
        labels = _pixel_data(data_sample, 'gt_sem_seg') if draw_gt \
            else None
        palette = (self.dataset_meta or {}).get('palette')
        if palette is None:
            labels = None
        panel = make_depth_panel(
            np.ascontiguousarray(image[..., :3]).astype(np.uint8), pred,
            rel_depth=rel, gt_depth=gt, vmin=self.vmin, vmax=self.vmax,
            cmap=self.cmap, titles=titles, labels=labels, palette=palette)
        if show:
            self.show(panel, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, np.ascontiguousarray(panel[..., ::-1]))
        else:
            self.add_image(name, panel, step)
