"""A CheckpointHook whose files never lie about their state or vanish.

MMEngine 0.10.7's :class:`~mmengine.hooks.CheckpointHook`, with validation
inside an epoch (mmzoe's quarter-epoch validation) and ``save_best``:

- re-saves ``epoch_{n}.pth`` after every improved validation to record the
  new best file, so after a mid-epoch validation ``epoch_3.pth`` holds the
  state of iteration 30 of epoch 4 (and resuming re-runs that epoch);
- deletes the previous best checkpoint before the new one is written, and
  the oldest kept checkpoint before the new one is written.

:class:`ZoeCheckpointHook` changes exactly this:

- a resumable state saved inside an epoch is written as
  ``iter_{iteration}.pth`` (meta ``epoch`` = completed epochs, ``iter`` =
  completed iterations; :class:`~mmzoe.engine.ZoeEpochBasedTrainLoop`
  resumes it at the next iteration); a best checkpoint from inside an epoch
  is ``best_{key}_iter_{iteration}.pth``; ``epoch_{n}.pth`` always holds the
  state at the end of epoch ``n``;
- order of every save: write the new file (atomically, see
  :meth:`mmzoe.engine.runner.ZoeRunner.save_checkpoint`), then point
  ``last_checkpoint`` at it (also atomically), and only then remove the
  files it replaces (the oldest of ``max_keep_ckpts``, the previous
  mid-epoch ``iter_*.pth``, the previous best);
- left-over temporary files of a killed write are removed before training.
"""
import glob
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmzoe.engine.runner.zoe_runner import TMP_PREFIX, atomic_write_text
from mmzoe.registry import HOOKS

# message-hub key of the current mid-epoch resumable checkpoint
MID_EPOCH_KEY = 'zoe_mid_epoch_ckpt'


@HOOKS.register_module()
class ZoeCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` with truthful names and safe
    replacement order (see the module docstring).

    Accepts the same arguments as :class:`mmengine.hooks.CheckpointHook`.
    """

    def before_train(self, runner) -> None:
        """Set up as MMEngine does, then drop temporary files of a killed
        write (main process, local work dir)."""
        super().before_train(runner)
        if is_main_process() and '://' not in str(self.out_dir):
            for folder in {self.out_dir, runner.work_dir}:
                for path in glob.glob(osp.join(folder, TMP_PREFIX + '*')):
                    os.remove(path)

    # -- file helpers -------------------------------------------------------

    def _remove(self, path: Optional[str]) -> None:
        if not path or not is_main_process():
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed checkpoints
            self.file_backend.rmtree(path)

    def _is_mid_epoch(self, runner) -> bool:
        """Whether the runner's state lies strictly inside an epoch."""
        if not self.by_epoch:
            return False
        return runner.iter != runner.epoch * len(runner.train_dataloader)

    def _write(self, runner, filename: str, meta: dict) -> str:
        """Save a resumable checkpoint; point ``last_checkpoint`` at it."""
        path = self.file_backend.join_path(self.out_dir, filename)
        self.last_ckpt = path
        runner.message_hub.update_info('last_ckpt', path)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                              path)
        return path

    # -- regular and mid-epoch saves ---------------------------------------

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``filename_tmpl.format(step)``; evict only afterwards."""
        evicted = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                evicted = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        previous_mid = runner.message_hub.get_info(MID_EPOCH_KEY)
        runner.message_hub.update_info(MID_EPOCH_KEY, None)
        self._write(runner, self.filename_tmpl.format(step), meta)
        if evicted is not None and evicted != step:
            name = self.filename_tmpl.format(evicted)
            self._remove(self.file_backend.join_path(self.out_dir, name))
        self._remove(previous_mid)

    def _save_resumable_now(self, runner) -> None:
        """Re-save the current state (after the best file changed)."""
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if not self._is_mid_epoch(runner):
            step = runner.epoch if self.by_epoch else runner.iter
            self._save_checkpoint_with_step(runner, step, meta)
            return
        previous_mid = runner.message_hub.get_info(MID_EPOCH_KEY)
        path = self.file_backend.join_path(self.out_dir,
                                           f'iter_{runner.iter}.pth')
        runner.message_hub.update_info(MID_EPOCH_KEY, path)
        self._write(runner, f'iter_{runner.iter}.pth', meta)
        if previous_mid != path:
            self._remove(previous_mid)

    # -- best checkpoints --------------------------------------------------

    def _best_state(self, key: str):
        if len(self.key_indicators) == 1:
            return 'best_score', 'best_ckpt', self.best_ckpt_path
        return (f'best_score_{key}', f'best_ckpt_{key}',
                self.best_ckpt_path_dict[key])

    def _set_best_path(self, runner, key: str, path: str) -> None:
        score_key, path_key, _ = self._best_state(key)
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = path
        else:
            self.best_ckpt_path_dict[key] = path
        runner.message_hub.update_info(path_key, path)

    def _save_best_checkpoint(self, runner, metrics: Dict) -> None:
        """Save a new best checkpoint; remove the old one only afterwards.

        Inside an epoch the file is named by the iteration
        (``best_abs_rel_iter_30.pth``), at an epoch end by the epoch
        (``best_abs_rel_epoch_4.pth``).
        """
        if not self.save_best:
            return
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])
        if self._is_mid_epoch(runner) or not self.by_epoch:
            tag, when = f'iter_{runner.iter}', f'{runner.iter} iter'
        else:
            tag, when = f'epoch_{runner.epoch}', f'{runner.epoch} epoch'
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        updated = False
        replaced: List[str] = []
        for key, rule in zip(self.key_indicators, self.rules):
            score = metrics[key]
            score_key, _, old_path = self._best_state(key)
            best = runner.message_hub.get_info(score_key,
                                               self.init_value_map[rule])
            if score is None or not self.is_better_than[key](score, best):
                continue
            updated = True
            runner.message_hub.update_info(score_key, score)
            name = f'best_{key}_{tag}.pth'.replace('/', '_')
            path = self.file_backend.join_path(self.out_dir, name)
            self._set_best_path(runner, key, path)
            runner.save_checkpoint(
                self.out_dir,
                filename=name,
                file_client_args=self.file_client_args,
                save_optimizer=False,
                save_param_scheduler=False,
                meta=meta,
                by_epoch=False,
                backend_args=self.backend_args)
            runner.logger.info(f'The best checkpoint with {score:0.4f} {key} '
                               f'at {when} is saved to {name}.')
            if old_path and old_path != path:
                replaced.append(old_path)
        # the resumable state records the new best file before the old one
        # goes: re-save it (as MMEngine does), then remove the old best
        if updated and self.last_ckpt is not None:
            self._save_resumable_now(runner)
        for path in replaced:
            self._remove(path)
            runner.logger.info(
                f'The previous best checkpoint {path} is removed')
