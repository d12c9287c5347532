"""2-rank gloo training exits cleanly: the process group's threads are joined
before the interpreter shuts down (rank 0 used to end with "terminate called
without an active exception" in some runs).

The cause is checked directly: a probe registered with ``atexit`` before the
tool runs (so it runs last, after mmzoe's own exit handler) lists the
process's threads; no gloo thread may be left. The run is repeated twice.
"""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from zoe_testing import REPO

CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')

PROBE = '''
import atexit, glob, os, runpy, sys

def probe():
    names = sorted(open(t + '/comm').read().strip()
                   for t in glob.glob('/proc/self/task/*'))
    print('EXIT-THREADS rank=%s %s' % (os.environ.get('RANK'), names),
          flush=True)

atexit.register(probe)
sys.argv = [{train!r}] + sys.argv[1:]
runpy.run_path({train!r}, run_name='__main__')
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available() or not osp.isdir('/proc/self'),
                    reason='checks the CPU (gloo) path; reads /proc')
def test_two_rank_gloo_run_exits_cleanly(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                  'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = str(tmp_path / 'data')
    module.make_tiny_nyu(osp.join(root, 'tiny_nyu.mat'), num=4, height=48,
                         width=64)
    probe = tmp_path / 'probe.py'
    probe.write_text(PROBE.format(train=osp.join(REPO, 'tools', 'train.py')))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONWARNINGS='ignore::FutureWarning')
    env.pop('MMZOE_TRACEBACK', None)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    for attempt in range(2):
        proc = subprocess.run(
            [sys.executable, '-m', 'torch.distributed.run',
             '--nproc_per_node=2', f'--master_port={_free_port()}',
             str(probe), CONFIG, '--launcher', 'pytorch', '--work-dir',
             str(tmp_path / f'w{attempt}'), '--cfg-options'] + [
                 f'{s}_dataloader.dataset.data_root={root}'
                 for s in ('train', 'val', 'test')
             ] + ['train_cfg.max_iters=1', 'train_cfg.val_interval=2'],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert 'terminate called' not in proc.stderr
        lines = [ln for ln in proc.stdout.splitlines()
                 if ln.startswith('EXIT-THREADS')]
        assert sorted(ln.split()[1] for ln in lines) == ['rank=0', 'rank=1']
        for line in lines:
            assert 'gloo' not in line, line
