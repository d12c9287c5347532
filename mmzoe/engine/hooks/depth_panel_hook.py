"""Hand the first validation/test samples to the depth visualizer."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmseg.engine.hooks import SegVisualizationHook

from mmzoe.registry import HOOKS


def _unwrap(model):
    return model.module if hasattr(model, 'module') else model


@HOOKS.register_module()
class ZoeDepthPanelHook(SegVisualizationHook):
    """mmseg's visualization hook for depth: panels of the first images.

    The one panel path of mmzoe: this hook hands samples to the runner's
    visualizer (``ZoeDepthVisualizer`` in the shipped configs), whose
    ``add_datasample`` draws ``RGB | relative depth | GT | prediction`` with
    a fixed metric range (the visualizer's ``vmin``/``vmax``). It replaces
    mmseg's ``SegVisualizationHook`` in ``default_hooks.visualization``, so
    ``tools/test.py --show/--show-dir`` drive it as they drive mmseg's, with
    three differences:

    * the RGB tile is the image fed to the model (``data_batch['inputs']``),
      so data sets without image files (NYU ``.mat``) work;
    * each validation (and test) run draws its first ``num_images`` samples
      (``interval`` is not used);
    * the relative-depth tile is the ``pred_rel_depth`` of the same forward
      pass: while panels are still to be drawn the hook sets the model's
      ``test_cfg.rel_depth`` (restored afterwards), so the estimator writes
      the core's ``ZoeCoreOutput.rel_depth`` into the predictions.

    Panels go to the visualizer's backends (validation: step
    ``runner.iter``; testing: step 0, never reading ``runner.iter``, which
    in a test-only run would build the training loop) and, with
    ``save_files``, as PNG files to ``{out_dir}/val_iter_{iter}/`` or
    ``{out_dir}/test/`` (``out_dir`` defaults to
    ``{runner.log_dir}/depth_panels``). Only the main process draws.

    Args:
        draw (bool): Draw at all. Defaults to True.
        num_images (int): Samples drawn per validation/test run.
            Defaults to 4.
        with_relative (bool): Ask the model for its relative depth (the
            ``relative`` tile). Defaults to True.
        out_dir (str, optional): Folder for the PNG files.
        save_files (bool): Also write PNG files. Defaults to True.
        interval (int): Kept for ``SegVisualizationHook``; not used.
        show (bool): Display the panels. Defaults to False.
        wait_time (float): Display time in seconds. Defaults to 0.
        backend_args (dict, optional): Kept for ``SegVisualizationHook``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = True,
                 num_images: int = 4,
                 with_relative: bool = True,
                 out_dir: Optional[str] = None,
                 save_files: bool = True,
                 interval: int = 1,
                 show: bool = False,
                 wait_time: float = 0.,
                 backend_args: Optional[dict] = None) -> None:
        if num_images < 0:
            raise ValueError(f'num_images must be >= 0, got {num_images}.')
        super().__init__(
            draw=draw,
            interval=interval,
            show=show,
            wait_time=wait_time,
            backend_args=backend_args)
        self.num_images = num_images
        self.with_relative = with_relative
        self.out_dir = out_dir
        self.save_files = save_files
        self._drawn = 0
        self._saved_rel: Optional[tuple] = None

    # ------------------------------------------------ relative depth switch
    def _ask_relative(self, runner) -> None:
        test_cfg = getattr(_unwrap(runner.model), 'test_cfg', None)
        if not (self.draw and self.with_relative and self.num_images > 0) \
                or test_cfg is None or self._saved_rel is not None:
            return
        self._saved_rel = ('rel_depth' in test_cfg,
                           test_cfg.get('rel_depth', None))
        test_cfg['rel_depth'] = True

    def _restore_relative(self, runner) -> None:
        if self._saved_rel is None:
            return
        test_cfg = _unwrap(runner.model).test_cfg
        had, old = self._saved_rel
        if had:
            test_cfg['rel_depth'] = old
        else:
            test_cfg.pop('rel_depth', None)
        self._saved_rel = None

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0
        self._ask_relative(runner)

    def before_test_epoch(self, runner) -> None:
        self._drawn = 0
        self._ask_relative(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._restore_relative(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._restore_relative(runner)

    # ------------------------------------------------------------- drawing
    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, data_batch, outputs, 'val')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, data_batch, outputs, 'test')

    @staticmethod
    def _rgb(model, img: torch.Tensor) -> np.ndarray:
        array = img.detach().cpu()
        if array.dtype != torch.uint8:
            array = array.float().clamp(0, 255).round().to(torch.uint8)
        array = array.permute(1, 2, 0).numpy()
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        if bool(getattr(model.data_preprocessor, 'bgr_to_rgb', False)):
            array = array[..., ::-1]
        return np.ascontiguousarray(array[..., :3])

    def _draw(self, runner, data_batch, outputs, mode: str) -> None:
        if not self.draw or self._drawn >= self.num_images:
            return
        if outputs and data_batch is not None and is_main_process():
            self._draw_samples(runner, data_batch, outputs, mode)
        if self._drawn >= self.num_images:  # done: stop asking
            self._restore_relative(runner)

    def _draw_samples(self, runner, data_batch, outputs, mode: str) -> None:
        model = _unwrap(runner.model)
        visualizer = getattr(runner, 'visualizer', None) or self._visualizer
        out_dir = self.out_dir or osp.join(runner.log_dir, 'depth_panels')
        if mode == 'test':
            step, folder = 0, osp.join(out_dir, 'test')
        else:
            step = runner.iter
            folder = osp.join(out_dir, f'{mode}_iter_{step}')
        for img, sample in zip(data_batch['inputs'], outputs):
            if self._drawn >= self.num_images:
                break
            if 'pred_depth_map' not in sample:
                continue
            rgb = self._rgb(model, img)
            img_path = sample.metainfo.get('img_path', None)
            base = (osp.splitext(osp.basename(str(img_path)))[0]
                    if img_path else 'sample')
            name = f'{self._drawn:02d}_{base}'
            visualizer.add_datasample(
                f'{mode}_{name}', rgb, data_sample=sample, show=self.show,
                wait_time=self.wait_time, step=step)
            if self.save_files:
                os.makedirs(folder, exist_ok=True)
                visualizer.add_datasample(
                    name, rgb, data_sample=sample,
                    out_file=osp.join(folder, f'{name}.png'))
            self._drawn += 1
