"""Helpers shared by several test modules (not a test module itself).

Test modules import from here (``tests/`` is on ``sys.path`` through
``tests/conftest.py``) instead of from each other; fixtures live in
``tests/conftest.py``.
"""
import importlib.util
import json
import math
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import tempfile
import time
from types import ModuleType

import torch

#: the repository root
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TESTS = osp.join(REPO, 'tests')
#: tiny ZoeDepth on a tiny NYU-layout ``.mat`` (training and testing)
CONFIG = osp.join(TESTS, 'configs', 'zoe_tiny_nyu.py')
#: tiny ZoeDepth + U-Net segmentation branch
SEG_CONFIG = osp.join(TESTS, 'configs', 'segdistill_tiny.py')
DATA = osp.join(TESTS, 'data')
#: the label value the segmentation losses ignore
IGNORE = 255
#: epochs and iterations per epoch of the ``tiny_recipe`` fixture
RECIPE_EPOCHS, RECIPE_PER_EPOCH = 2, 8


def load_module(name: str, path: str) -> ModuleType:
    """Import a script (a tool, a test config helper) by its path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tiny_nyu(path: str, num: int, height: int, width: int) -> str:
    """Write a tiny NYU-layout ``.mat`` (tests/configs/make_tiny_nyu.py)."""
    make = load_module('make_tiny_nyu',
                       osp.join(TESTS, 'configs', 'make_tiny_nyu.py'))
    make.make_tiny_nyu(path, num=num, height=height, width=width)
    return path


# ------------------------------------------------------------------ tools
def tool_env() -> dict:
    """The environment a tool subprocess gets: one thread, no overrides."""
    env = dict(os.environ)
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    env.pop('MMZOE_TRACEBACK', None)
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    env['PYTHONWARNINGS'] = 'ignore::FutureWarning'
    return env


def run(args, timeout=300, cwd=REPO, env=None,
        **kwargs) -> subprocess.CompletedProcess:
    """Run ``args`` (in the repository root) with :func:`tool_env`.

    ``python SCRIPT ...`` runs in a process forked from the session's
    :class:`ForkServer` (a warm interpreter that has imported the third-party
    packages, not mmzoe; ~7 s of CPU less per command); anything else, or a
    call with more ``subprocess.run`` arguments, in a fresh process. Returns
    what ``subprocess.run(..., capture_output=True, text=True)`` returns.
    """
    env = tool_env() if env is None else env
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in env
    if (not kwargs and len(args) > 1 and args[0] == sys.executable
            and args[1].endswith('.py')):
        with tempfile.TemporaryDirectory() as tmp:
            out, err = osp.join(tmp, 'stdout'), osp.join(tmp, 'stderr')
            rc = fork_server().run(list(args[1:]), cwd, env, out, err,
                                   timeout)['rc']
            with open(out, errors='replace') as f_out, \
                    open(err, errors='replace') as f_err:
                stdout, stderr = f_out.read(), f_err.read()
        if rc == 'timeout':
            raise subprocess.TimeoutExpired(args, timeout, stdout, stderr)
        return subprocess.CompletedProcess(args, rc, stdout, stderr)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, **kwargs)


def run_code(code: str, timeout=300, cwd=REPO,
             env=None) -> subprocess.CompletedProcess:
    """Run Python source ``code`` (``python -c`` style) through :func:`run`.

    It runs as a script in a process forked from the session's
    :class:`ForkServer`: a process of its own in which the third-party
    packages are imported, ``mmzoe`` and ``mmseg`` are not, and torch has
    not started intra-op threads (the server runs with one thread and
    computes nothing). Code that needs a process in which even those
    imports have not happened yet (import-time warnings) needs a fresh
    interpreter instead. Returns what :func:`run` returns.
    """
    with tempfile.TemporaryDirectory() as tmp:
        script = osp.join(tmp, 'code.py')
        with open(script, 'w', encoding='utf-8') as f:
            f.write(code)
        return run([sys.executable, script], timeout=timeout, cwd=cwd,
                   env=env)


class ForkedSubprocess:
    """Stands in for the ``subprocess`` module inside a tool under test
    (``monkeypatch.setattr(tool, 'subprocess', ForkedSubprocess())``): the
    ``python SCRIPT ...`` commands the tool starts run through :func:`run`
    (forks of the session's warm interpreter, one at a time) instead of
    fresh interpreters; the tool's own code (command lines, logs, exit
    status handling) runs unchanged. ``commands`` lists what it started.
    """

    STDOUT = subprocess.STDOUT
    PIPE = subprocess.PIPE
    CompletedProcess = subprocess.CompletedProcess

    def __init__(self) -> None:
        import threading
        self.commands = []
        self._lock = threading.Lock()  # tools that start runs from threads

    @staticmethod
    def _env(env: dict = None) -> dict:
        env = tool_env() if env is None else dict(env)
        env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
        env.pop('MMZOE_TRACEBACK', None)
        return env

    def call(self, cmd, stdout, stderr, env=None, cwd=REPO) -> int:
        """``subprocess.call`` with ``stdout`` an open log file and
        ``stderr=STDOUT``."""
        assert cmd[0] == sys.executable and stderr is subprocess.STDOUT
        stdout.flush()
        with self._lock:
            self.commands.append(list(cmd))
            rc = fork_server().run(list(cmd[1:]), cwd, self._env(env),
                                   stdout.name, stdout.name, 600)['rc']
        return 1 if rc == 'timeout' else rc

    def run(self, cmd, capture_output=True, text=True, env=None, cwd=REPO,
            timeout=600) -> subprocess.CompletedProcess:
        """``subprocess.run(cmd, capture_output=True, text=True)``."""
        assert capture_output and text and cmd[0] == sys.executable
        with self._lock:
            self.commands.append(list(cmd))
            return run(list(cmd), timeout=timeout, cwd=cwd,
                       env=self._env(env))


# ------------------------------------------------------------ fork server
#: what the fork server imports before it forks (never mmzoe or mmseg: a
#: command imports those itself, as for a user)
PRELOAD = ('numpy', 'torch', 'torchvision', 'timm', 'mmengine',
           'mmengine.runner', 'mmcv', 'mmcv.cnn', 'mmcv.transforms', 'cv2',
           'h5py', 'PIL.Image', 'scipy.io', 'matplotlib')


def freeze_imported_objects() -> None:
    """Move every object alive now (the imported modules' ~0.5 M objects)
    into the garbage collector's permanent generation (``gc.freeze``).

    MMEngine collects garbage explicitly (every dataset it builds calls
    ``gc.collect()``), and a full collection traverses every tracked
    object: ~0.25 s of CPU each after the imports of torch, timm, MMEngine
    and mmseg, ~0.01 s without them. What a command or test creates later
    is collected as usual; only the frozen objects are never freed (a
    process that imported them keeps them anyway).
    """
    import gc
    gc.collect()
    gc.freeze()


class ForkServer:
    """Runs ``python SCRIPT ...`` commands in processes forked from a warm
    interpreter.

    A fresh interpreter spends ~7 s of CPU importing torch, timm, MMEngine,
    cv2, ... before a tool does anything; the server imports them once and
    each command runs in a fork of it (``runpy``, as ``__main__``, with its
    own cwd, environment, ``sys.argv`` and ``sys.path[0]``). Import-time
    settings (``OMP_NUM_THREADS``, ``PYTHONWARNINGS``) are the server's: it
    starts with the environment it is given. The imported objects are
    frozen (:func:`freeze_imported_objects`): a command's garbage
    collections only traverse what the command itself created.

    Args:
        env (dict): The server's environment.
    """

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, osp.abspath(__file__), '--serve'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            text=True)
        self.cpu = []

    def run(self, argv: list, cwd: str, env: dict, stdout: str, stderr: str,
            timeout: float) -> dict:
        """Run ``argv`` (script and arguments); the output goes to the files
        ``stdout`` and ``stderr`` (may be one file). Returns ``rc`` (exit
        code or ``'timeout'``) and ``cpu`` (CPU seconds of the command)."""
        job = dict(argv=argv, cwd=cwd, env=env, stdout=stdout,
                   stderr=stderr, timeout=timeout)
        self.proc.stdin.write(json.dumps(job) + '\n')
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError('fork server died')
        reply = json.loads(reply)
        self.cpu.append((argv[0], reply['cpu']))
        return reply

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a very busy machine
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


_SERVER = None


def fork_server() -> ForkServer:
    """The session's fork server for :func:`run` (started on first use with
    :func:`tool_env`; ``tests/conftest.py`` closes it)."""
    global _SERVER
    if _SERVER is None or _SERVER.proc.poll() is not None:
        _SERVER = ForkServer(tool_env())
    return _SERVER


def close_fork_server() -> None:
    global _SERVER
    if _SERVER is not None and _SERVER.proc.poll() is None:
        _SERVER.close()
    _SERVER = None


def _child(job: dict) -> None:
    import atexit
    import runpy
    import traceback
    rc = 1
    try:
        out = os.open(job['stdout'], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        err = out if job['stderr'] == job['stdout'] else os.open(
            job['stderr'], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(err, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.chdir(job['cwd'])
        extra = [p for p in job['env'].get('PYTHONPATH', '').split(
            os.pathsep) if p and p not in sys.path]
        os.environ.clear()
        os.environ.update(job['env'])
        script = job['argv'][0]
        sys.argv = list(job['argv'])
        sys.path[0] = osp.dirname(osp.realpath(script))
        sys.path[1:1] = extra   # the command's own PYTHONPATH entries
        try:
            runpy.run_path(script, run_name='__main__')
            rc = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                rc = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                rc = 1
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _serve() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    assert 'mmzoe' not in sys.modules and 'mmseg' not in sys.modules
    freeze_imported_objects()
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(job)
        deadline = time.monotonic() + job['timeout']
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                _, _, usage = os.wait4(pid, 0)
                rc = 'timeout'
                break
            time.sleep(0.05)
        # CPU seconds of the command (its own children included only when
        # they were waited for: RUSAGE of the forked process itself)
        cpu = usage.ru_utime + usage.ru_stime
        print(json.dumps(dict(rc=rc, cpu=cpu)), flush=True)
    # nothing to tear down: skip the interpreter's slow shutdown of torch
    os._exit(0)


def data_options(data_root: str) -> list:
    """``--cfg-options`` pointing every split of CONFIG at ``data_root``."""
    return ['--cfg-options'] + [
        f'{split}_dataloader.dataset.data_root={data_root}'
        for split in ('train', 'val', 'test')
    ]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for torch.distributed rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ----------------------------------------------------- upstream key layout
def to_upstream_midas(model) -> dict:
    """Independent reverse mapping: mmzoe core keys -> MiDaS timm-0.6 keys,
    plus the tensors upstream files carry but we drop."""
    out = {}
    rel = {'conv1': '0', 'conv2': '2', 'conv3': '4'}
    for key, value in model.state_dict().items():
        if key.startswith('backbone.model.'):
            k = key[len('backbone.model.'):]
            m = re.match(r'layers\.(\d+)\.downsample\.(.*)', k)
            if m:
                k = f'layers.{int(m.group(1)) - 1}.downsample.{m.group(2)}'
            out['pretrained.model.' + k] = value.clone()
        elif key.startswith('neck.relative_head.'):
            name, param = key[len('neck.relative_head.'):].split('.')
            out[f'scratch.output_conv.{rel[name]}.{param}'] = value.clone()
        elif key.startswith('neck.'):
            out['scratch.' + key[len('neck.'):]] = value.clone()
    c = model.backbone.out_channels[-1]
    out['pretrained.model.norm.weight'] = torch.ones(c)
    out['pretrained.model.norm.bias'] = torch.zeros(c)
    out['pretrained.model.head.weight'] = torch.zeros(1000, c)
    out['pretrained.model.head.bias'] = torch.zeros(1000)
    out['pretrained.model.layers.0.blocks.1.attn_mask'] = torch.zeros(4, 4, 4)
    return out


# ------------------------------------- segmentation losses: loop references
def _softmax(v):
    e = [math.exp(x - max(v)) for x in v]
    s = sum(e)
    return [x / s for x in e]


def _valid_pixels(logits, labels, ignore):
    """(b, i, j, label, softmax probabilities) of each non-ignored pixel."""
    n, c, h, w = logits.shape
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = int(labels[b, i, j])
                if y != ignore:
                    yield b, i, j, y, _softmax(
                        [float(logits[b, k, i, j]) for k in range(c)])


def ref_dice(logits, labels, smooth=1.0, weight=None, ignore=IGNORE):
    """Pixel loops in float64: batch-level soft dice, mean over classes."""
    c = logits.shape[1]
    inter = [0.0] * c
    psum = [0.0] * c
    tsum = [0.0] * c
    for b, i, j, y, p in _valid_pixels(logits, labels, ignore):
        wt = 1.0 if weight is None else float(weight[b, i, j])
        for k in range(c):
            t = 1.0 if k == y else 0.0
            inter[k] += wt * p[k] * t
            psum[k] += wt * p[k]
            tsum[k] += wt * t
    dice = [(2 * inter[k] + smooth) / (psum[k] + tsum[k] + smooth)
            for k in range(c)]
    return 1.0 - sum(dice) / c


def ref_focal(logits, labels, gamma=2.0, alpha=None, weight=None,
              ignore=IGNORE):
    """Pixel loops in float64: mean softmax focal loss over valid pixels."""
    total, count = 0.0, 0
    for b, i, j, y, probs in _valid_pixels(logits, labels, ignore):
        count += 1
        p = probs[y]
        a = 1.0 if alpha is None else (
            alpha if isinstance(alpha, float) else alpha[y])
        wt = 1.0 if weight is None else float(weight[b, i, j])
        total += -wt * a * (1 - p)**gamma * math.log(p)
    return total / count


# ------------------------------------------- tiny model with the seg branch
#: classes of tests/configs/segdistill_tiny.py
SEG_NUM_CLASSES = 14


def segdistill_cfg(with_aux=True, **test_cfg):
    """The tiny seg-distill model config (drop path off: deterministic)."""
    import copy

    from mmengine.config import Config
    model_cfg = copy.deepcopy(Config.fromfile(SEG_CONFIG).model)
    model_cfg.backbone.drop_path_rate = 0.0  # deterministic train steps
    if not with_aux:
        model_cfg.pop('auxiliary_head')
    model_cfg.test_cfg.update(test_cfg)
    return model_cfg


def build_segdistill(with_aux=True, seed=0, **test_cfg):
    """The tiny seg-distill model, seeded and initialised."""
    from mmengine.registry import init_default_scope

    from mmzoe.registry import MODELS
    init_default_scope('mmzoe')
    torch.manual_seed(seed)
    model = MODELS.build(segdistill_cfg(with_aux, **test_cfg))
    model.init_weights()
    return model


def segdistill_batch(seed=0, size=(40, 56), n=2):
    """A fixed generated batch: uint8 RGB, depth (0 = invalid), labels."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    h, w = size
    inputs, samples = [], []
    yy, xx = torch.meshgrid(
        torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing='ij')
    for i in range(n):
        img = (torch.rand(3, h, w, generator=g) * 60 +
               torch.stack([xx, yy, xx * yy]) * 190).to(torch.uint8)
        depth = 0.5 + 4.0 * xx + 2.0 * yy * (i + 1) / n
        depth[torch.rand(h, w, generator=g) < 0.1] = 0.0  # invalid pixels
        labels = ((xx * 3).long() + 3 * (yy * 3).long() + i).clamp(
            max=SEG_NUM_CLASSES - 1)
        labels[torch.rand(h, w, generator=g) < 0.15] = IGNORE
        sample = SegDataSample(
            metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
        sample.gt_depth_map = PixelData(data=depth[None].float())
        sample.gt_sem_seg = PixelData(data=labels[None])
        inputs.append(img)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


if __name__ == '__main__' and sys.argv[1:] == ['--serve']:
    _serve()


def neck_train_losses_and_grads(necks, feats, weight):
    """One training backward of each DPT neck in ``necks`` on copies of
    ``feats``: a loss over ``out_conv`` (weighted by ``weight``), the
    relative depth and the decoder maps.

    Returns:
        tuple[list, list]: The losses and, per neck, ``{name: grad}`` of its
        trainable parameters and of the inputs (``input{i}``).
    """
    losses, grads = [], []
    for m in necks:
        m.train()
        inputs = [f.clone().requires_grad_() for f in feats]
        out = m(inputs)
        loss = (out.out_conv * weight).sum() + out.rel_depth.square().sum() \
            + sum(r.square().mean() for r in out.decoder)
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad for n, p in m.named_parameters()
                      if p.requires_grad} |
                     {f'input{i}': t.grad for i, t in enumerate(inputs)})
    return losses, grads


def tiny_dpt_neck(**kwargs):
    """A seeded ZoeDPTNeck with 4 small input levels (8..20 channels), 16
    feature channels and an 8-channel ``out_conv``; ``kwargs`` are its
    switches."""
    from mmzoe.models.necks import ZoeDPTNeck
    torch.manual_seed(0)
    return ZoeDPTNeck(
        in_channels=[8, 12, 16, 20],
        channels=16,
        relative_head=dict(type='ZoeRelativeDepthHead', feat_channels=8),
        **kwargs)
