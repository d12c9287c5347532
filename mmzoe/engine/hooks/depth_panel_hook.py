"""Save RGB | relative | GT | prediction panels of a few validation images."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmzoe.registry import HOOKS


def _unwrap(model):
    return model.module if hasattr(model, 'module') else model


@HOOKS.register_module()
class ZoeDepthPanelHook(Hook):
    """Draw depth panels for the first ``num_images`` validation samples.

    Each validation (and test) run draws ``RGB | relative depth | GT |
    prediction`` panels with the FIXED metric colour range ``[vmin, vmax]``
    for GT and prediction (so panels of different runs compare by eye). The
    RGB tile is the image fed to the model (from ``data_batch['inputs']``, so
    it works for datasets without image files, e.g. NYU ``.mat``). Panels go
    to ``runner.visualizer.add_image`` (every configured vis backend) and,
    as PNG files, to ``{out_dir}/val_iter_{iter}/`` or ``{out_dir}/test/``
    (``out_dir`` defaults to ``{runner.log_dir}/depth_panels``). Testing never
    reads ``runner.iter``: in a test-only run that would build the training
    loop, and with it the training data set. Only the main process draws.

    Args:
        num_images (int): Samples drawn per validation run. Defaults to 4.
        vmin (float): Metric range start in metres. Defaults to 0.
        vmax (float): Metric range end in metres. Defaults to 10.
        with_relative (bool): Add the core's relative-depth tile (one extra
            forward pass per drawn image). Defaults to True.
        out_dir (str, optional): Folder for the PNG files.
        save_files (bool): Write PNG files besides the visualizer.
            Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 num_images: int = 4,
                 vmin: float = 0.0,
                 vmax: float = 10.0,
                 with_relative: bool = True,
                 out_dir: Optional[str] = None,
                 save_files: bool = True) -> None:
        if num_images < 0:
            raise ValueError(f'num_images must be >= 0, got {num_images}.')
        if not vmax > vmin:
            raise ValueError(f'vmax ({vmax}) must be larger than vmin '
                             f'({vmin}).')
        self.num_images = num_images
        self.vmin = vmin
        self.vmax = vmax
        self.with_relative = with_relative
        self.out_dir = out_dir
        self.save_files = save_files
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0

    def before_test_epoch(self, runner) -> None:
        self._drawn = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, data_batch, outputs, 'val')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, data_batch, outputs, 'test')

    def _rgb(self, model, img: torch.Tensor) -> np.ndarray:
        array = img.detach().cpu()
        if array.dtype != torch.uint8:
            array = array.float().clamp(0, 255).round().to(torch.uint8)
        array = array.permute(1, 2, 0).numpy()
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        if bool(getattr(model.data_preprocessor, 'bgr_to_rgb', False)):
            array = array[..., ::-1]
        return np.ascontiguousarray(array[..., :3])

    @torch.no_grad()
    def _relative(self, model, img: torch.Tensor,
                  sample) -> Optional[np.ndarray]:
        from mmzoe.apis.inference import relative_depth_from_batch
        data = dict(inputs=[img], data_samples=[sample.clone()])
        rel = relative_depth_from_batch(model, data, flip=False)[0]
        return rel.cpu().numpy()

    def _draw(self, runner, data_batch, outputs, mode: str) -> None:
        if (self._drawn >= self.num_images or not outputs
                or data_batch is None or not is_main_process()):
            return
        from mmzoe.visualization import make_depth_panel

        model = _unwrap(runner.model)
        inputs = data_batch['inputs']
        out_dir = self.out_dir or osp.join(runner.log_dir, 'depth_panels')
        if mode == 'test':
            step, folder = 0, osp.join(out_dir, 'test')
        else:
            step = runner.iter
            folder = osp.join(out_dir, f'{mode}_iter_{step}')
        for img, sample in zip(inputs, outputs):
            if self._drawn >= self.num_images:
                break
            if 'pred_depth_map' not in sample:
                continue
            rgb = self._rgb(model, img)
            pred = sample.pred_depth_map.data.detach().float().cpu().numpy()
            gt = None
            if 'gt_depth_map' in sample:
                gt = sample.gt_depth_map.data.detach().float().cpu().numpy()
                gt_shape = sample.metainfo.get('gt_depth_map_shape')
                if gt_shape is not None:  # drop batch padding
                    gt = gt[..., :gt_shape[0], :gt_shape[1]]
            rel = None
            if self.with_relative and 'pred_rel_depth' in sample:
                rel = sample.pred_rel_depth.data.detach().float().cpu().numpy()
            elif self.with_relative:
                rel = self._relative(model, img, sample)
            panel = make_depth_panel(rgb, pred, rel_depth=rel, gt_depth=gt,
                                     vmin=self.vmin, vmax=self.vmax)
            img_path = sample.metainfo.get('img_path', None)
            base = (osp.splitext(osp.basename(str(img_path)))[0]
                    if img_path else 'sample')
            name = f'{self._drawn:02d}_{base}'
            runner.visualizer.add_image(f'{mode}_{name}', panel, step=step)
            if self.save_files:
                import cv2
                os.makedirs(folder, exist_ok=True)
                cv2.imwrite(osp.join(folder, f'{name}.png'),
                            np.ascontiguousarray(panel[..., ::-1]))
            self._drawn += 1
