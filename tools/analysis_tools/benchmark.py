"""Speed and memory benchmark of a ZoeDepth config (inference, training, data).

Prints the parameter count, the FLOPs of one forward (counted with
``torch.utils.flop_counter``: 2 per multiply-add of conv / matmul / attention;
element-wise ops, softmax and interpolation are not counted), latency
median / min / max over ``--repeats`` timed runs after ``--warmup`` runs,
images/s, and the peak memory of the timed runs (on CPU: the peak resident set
size of this process, reset just before the timed runs through
``/proc/self/clear_refs``; the whole-process peak is printed too; on CUDA: the
caching allocator's peak). In ``infer`` mode the metric depth is also compared
with plain eager fp32 (timm attention, no channels-last, no autocast, no
compile) on the same weights and input.

Without ``--checkpoint`` the model has random weights, perturbed as in the
ZoeDepth spec (post-norm weights ``1 + 0.1·noise``, every other parameter
``+ 0.02·noise``): timm zero-initialises SwinV2's post-norms, which would make
every block an identity map and hide the attention from the comparison.

Examples::

    # fp32 inference, fused attention, 2 threads
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --attn-impl sdpa --threads 2
    # bf16 autocast
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --attn-impl sdpa --amp bf16
    # training step (forward + SILog + backward + AdamW), checkpointing
    python tools/analysis_tools/benchmark.py \\
        configs/_base_/models/zoedepth_swin2b.py --mode train --with-cp \\
        --repeats 3 --warmup 1
    # data pipeline: samples/s of the configured NYU loader on a generated
    # .mat with the configured workers
    python tools/analysis_tools/benchmark.py CONFIG_WITH_DATA --mode data \\
        --synthetic 64 --repeats 40
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

# Runtime switches exposed here, and the config keys they set.
ATTN_IMPLS = ('timm', 'sdpa')


# --------------------------------------------------------------- arguments
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark a ZoeDepth config (speed, FLOPs, memory).')
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='weights to load (optional)')
    parser.add_argument(
        '--mode', choices=['infer', 'train', 'data'], default='infer')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default: 1 (infer/train), the configured '
                        'train_dataloader batch size (data)')
    parser.add_argument('--amp', choices=['bf16', 'fp16'], default=None,
                        help='autocast dtype (default: fp32)')
    parser.add_argument(
        '--channels-last', action='store_true', default=None,
        help='channels-last convolutions in the DPT neck '
        '(model.neck.channels_last=True)')
    parser.add_argument(
        '--nchw', dest='channels_last', action='store_false', default=None,
        help='NCHW convolutions in the DPT neck '
        '(model.neck.channels_last=False)')
    parser.add_argument(
        '--tf32', action='store_true',
        help='CUDA: allow TF32 in fp32 matmuls and convolutions (off by '
        'default here, so fp32 rows are strict fp32; torch itself enables '
        'it for cuDNN convolutions)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile backbone, neck and decode head')
    parser.add_argument(
        '--eager', action='store_true',
        help='every speed switch of the config off first (timm attention, '
        'NCHW neck, upstream\'s log-binomial order); the switches below '
        'still apply')
    parser.add_argument(
        '--attn-impl', choices=ATTN_IMPLS, default=None,
        help='SwinV2 window attention (model.backbone.attn_impl); '
        'default: the config\'s')
    parser.add_argument(
        '--with-cp', action='store_true',
        help='activation checkpointing of the SwinV2 blocks, the DPT fusion '
        'blocks and the metric head stages (model.{backbone,neck,'
        'decode_head}.with_cp)')
    parser.add_argument(
        '--cpu-malloc', choices=['default', 'reuse', 'release'],
        default='default',
        help="glibc malloc policy (mmzoe.utils.cpu_runtime): 'reuse' keeps "
        "freed memory (no page faults per step), 'release' returns it at "
        'once (smallest RSS)')
    parser.add_argument('--flush-denormal', action='store_true',
                        help='flush denormal floats to zero on all threads')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (CPU)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-perturb', action='store_true',
                        help='keep the random init (no checkpoint given)')
    parser.add_argument('--no-compare', action='store_true',
                        help='infer: skip the comparison with eager fp32')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip the FLOP count')
    parser.add_argument(
        '--rss-phases', action='store_true',
        help='train, CPU: sample the RSS every 2 ms and print its peak in the '
        'forward, backward and optimizer phases and between steps')
    parser.add_argument('--lr', type=float, default=1.61e-4,
                        help='train: AdamW learning rate')
    parser.add_argument(
        '--fused-adamw', action='store_true',
        help='train: AdamW(fused=True) (one kernel per parameter; in a '
        'config: optim_wrapper.optimizer.fused=True). Default: torch\'s '
        'default AdamW (a per-tensor loop on CPU), as upstream')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='data: override the configured workers')
    parser.add_argument('--data-file', default=None,
                        help='data: NYU labeled .mat to read (overrides the '
                        'configured data_root/ann_file)')
    parser.add_argument('--synthetic', type=int, default=0, metavar='N',
                        help='data: write a random N-image NYU-layout .mat '
                        '(480x640) to a temporary folder and read it')
    parser.add_argument('--split', choices=['train', 'val'], default='train',
                        help='data: which dataloader config to use')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--cfg-options', nargs='+', default=None,
        help='override config keys (key=value, mmengine DictAction)')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.rss_phases and (args.mode != 'train' or args.device != 'cpu'
                            or not osp.exists('/proc/self/statm')):
        parser.error('--rss-phases needs --mode train on CPU under Linux')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available here')
    if args.amp == 'fp16' and args.device == 'cpu':
        print('warning: fp16 autocast on CPU is slow on most CPUs; bf16 is '
              'the CPU choice', file=sys.stderr)
    return args


def _cfg_options(items: Optional[List[str]]) -> Dict:
    from mmengine.config import DictAction
    if not items:
        return {}
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='o')(None, ns, items)
    return ns.o


def load_config(args: argparse.Namespace):
    """Read the config and apply ``--cfg-options`` and the model switches."""
    from mmengine.config import Config
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(_cfg_options(args.cfg_options))
    if args.mode == 'data':
        return cfg
    if 'model' not in cfg:
        raise KeyError(f'{args.config} has no "model" section')
    if args.eager:
        cfg.model = eager_reference_cfg(cfg.model)
    model = cfg.model
    if args.attn_impl is not None:
        model.backbone.attn_impl = args.attn_impl
    if args.with_cp:
        model.backbone.with_cp = True
        model.neck.with_cp = True
        model.decode_head.with_cp = True
    if args.channels_last is not None:
        model.neck.channels_last = args.channels_last
    return cfg


# Head switches that change the order of operations (default: upstream's).
_HEAD_SWITCHES = ('clb_project_condition', 'fused_expectation')


def eager_reference_cfg(model_cfg):
    """The model config with every speed switch off (plain eager fp32:
    timm attention, NCHW, upstream's order of operations in the head)."""
    import copy
    ref = copy.deepcopy(model_cfg)
    ref.backbone.attn_impl = 'timm'
    ref.backbone.pop('with_cp', None)
    ref.neck.pop('with_cp', None)
    ref.decode_head.pop('with_cp', None)
    ref.neck.pop('channels_last', None)
    for key in _HEAD_SWITCHES:
        ref.decode_head.pop(key, None)
    return ref


# ------------------------------------------------------------------ model
def perturb_weights(model: nn.Module, seed: int = 0) -> None:
    """Spec §10.21: make random SwinV2 blocks non-trivial.

    Post-norm weights (``norm1``/``norm2`` of the SwinV2 blocks) become
    ``1 + 0.1·noise``; every other parameter gets ``+ 0.02·noise``.

    Args:
        model (nn.Module): Model to modify in place.
        seed (int): Noise seed. Defaults to 0.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen).to(param)
            if '.blocks.' in name and name.endswith(
                    ('norm1.weight', 'norm2.weight')):
                param.copy_(1 + 0.1 * noise)
            else:
                param.add_(0.02 * noise)


def build_model(model_cfg, device: str, checkpoint: Optional[str] = None,
                perturb: bool = True, seed: int = 0,
                state_dict: Optional[dict] = None) -> nn.Module:
    """Build the model, load or perturb weights, move it to ``device``."""
    from mmzoe.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    elif checkpoint is not None:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    elif perturb:
        perturb_weights(model, seed)
    return model.to(device)


def network_size(model: nn.Module) -> Sequence[int]:
    size = getattr(model.data_preprocessor, 'size', None)
    if size is None:
        size = getattr(model.backbone, 'img_size', None)
    if size is None:
        raise ValueError('cannot tell the network input size: set '
                         'model.data_preprocessor.size')
    return tuple(int(s) for s in size)


def make_inputs(model: nn.Module, batch_size: int, device: str,
                seed: int = 0) -> torch.Tensor:
    """Normalised network inputs (B, 3, H, W) from uniform [0, 1] RGB."""
    h, w = network_size(model)
    gen = torch.Generator().manual_seed(seed + 1)
    img = torch.rand(batch_size, 3, h, w, generator=gen)
    return ((img - 0.5) / 0.5).to(device)


def make_data_samples(model: nn.Module, batch_size: int, device: str,
                      seed: int = 0) -> list:
    """Training samples with GT depth in [0.5, 9.5] m and 14-class labels at
    the network size."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = network_size(model)
    gen = torch.Generator().manual_seed(seed + 2)
    samples = []
    for _ in range(batch_size):
        s = SegDataSample(metainfo=dict(
            ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w)))
        depth = 0.5 + 9 * torch.rand(1, h, w, generator=gen)
        seg = torch.randint(0, 14, (1, h, w), generator=gen)
        s.gt_depth_map = PixelData(data=depth.to(device))
        s.gt_sem_seg = PixelData(data=seg.to(device))
        samples.append(s)
    return samples


def compile_model(model: nn.Module) -> None:
    """``torch.compile`` the forward of backbone, neck and decode head
    (parameter names, hence checkpoints, stay unchanged)."""
    for name in ('backbone', 'neck', 'decode_head'):
        module = getattr(model, name, None)
        if module is not None:
            module.forward = torch.compile(module.forward)


def _uncompile(model: nn.Module) -> None:
    for name in ('backbone', 'neck', 'decode_head'):
        module = getattr(model, name, None)
        if module is not None and 'forward' in module.__dict__:
            del module.forward


def autocast_ctx(device: str, amp: Optional[str]):
    if amp is None:
        return contextlib.nullcontext()
    dtype = dict(bf16=torch.bfloat16, fp16=torch.float16)[amp]
    return torch.autocast(device_type=device, dtype=dtype)


# ----------------------------------------------------------------- memory
class PeakMemory:
    """Peak memory of a code section.

    CPU: the resident set size high-water mark (``VmHWM``), reset with
    ``/proc/self/clear_refs`` (Linux); where that is not possible, the
    process peak (``ru_maxrss``) is reported instead and flagged. CUDA: the
    caching allocator's ``max_memory_allocated``.

    Args:
        device (str): 'cpu' or 'cuda'.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.scope = 'section'

    @staticmethod
    def _vm_hwm() -> Optional[int]:
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def reset(self) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            self.scope = 'process'

    def peak_bytes(self) -> int:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated())
        hwm = self._vm_hwm() if self.scope == 'section' else None
        if hwm is None:
            self.scope = 'process'
            return process_peak_rss()
        return hwm


class RssPhases:
    """Peak RSS per phase of a training step (CPU, Linux).

    A thread reads ``/proc/self/statm`` every ``interval`` seconds and keeps
    the largest resident set seen under the phase the step last set
    (``forward``, ``backward``, ``optimizer``, ``between``): where in the
    step the memory peaks and what the floor between steps is.

    Args:
        interval (float): Sampling period in seconds. Defaults to 0.002.
    """

    def __init__(self, interval: float = 0.002) -> None:
        import threading
        self.interval = interval
        self.phase = 'between'
        self.peaks: Dict[str, int] = {}
        self._page = os.sysconf('SC_PAGE_SIZE')
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, phase = self._rss(), self.phase
            if rss > self.peaks.get(phase, 0):
                self.peaks[phase] = rss
            self._stop.wait(self.interval)

    def reset(self) -> None:
        self.peaks = {}

    def stop(self) -> Dict[str, int]:
        self._stop.set()
        self._thread.join()
        return dict(self.peaks)


def process_peak_rss() -> int:
    """Peak RSS of this process since it started (bytes)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kb) * (1 if sys.platform == 'darwin' else 1024)


# ----------------------------------------------------------------- timing
def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_runs(fn: Callable[[], object], warmup: int, repeats: int,
              device: str, memory: Optional[PeakMemory] = None
              ) -> List[float]:
    """Run ``fn`` ``warmup`` times, then time ``repeats`` runs (seconds).
    ``memory`` is reset after the warm-up."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if memory is not None:
        memory.reset()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def timed_stats(fn: Callable[[], object], args: argparse.Namespace,
                device: str, batch_size: int) -> Dict:
    """Time ``fn`` (``--warmup`` / ``--repeats``) and return the latency
    statistics with the peak memory of the timed runs."""
    memory = PeakMemory(device)
    times = time_runs(fn, args.warmup, args.repeats, device, memory)
    res = latency_stats(times, batch_size)
    res.update(
        peak_mem_bytes=memory.peak_bytes(),
        peak_mem_scope=memory.scope,
        process_peak_rss_bytes=process_peak_rss())
    return res


def latency_stats(times: List[float], batch_size: int) -> Dict[str, float]:
    med = statistics.median(times)
    return dict(
        latency_median_s=med,
        latency_min_s=min(times),
        latency_max_s=max(times),
        images_per_s=batch_size / med,
        times_s=list(times))


def _extra_flop_formulas() -> Dict:
    """Formulas torch's counter lacks: its table covers the CUDA fused
    attention kernels but not the CPU flash kernel, whose FLOPs would
    otherwise silently count as 0."""
    from torch.utils import flop_counter as fc
    aten = torch.ops.aten
    extra = {}
    if hasattr(aten, '_scaled_dot_product_flash_attention_for_cpu'):

        def fwd(query_shape, key_shape, value_shape, *args, **kwargs):
            return fc.sdpa_flop_count(query_shape, key_shape, value_shape)

        # FlopCounterMode applies fc.shape_wrapper to custom formulas.
        extra[aten._scaled_dot_product_flash_attention_for_cpu] = fwd
    return extra


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (torch.utils.flop_counter).

    Counts 2 FLOPs per multiply-add of conv / matmul / (fused) attention;
    element-wise ops, softmax and interpolation are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(
            display=False, custom_mapping=_extra_flop_formulas()) as counter:
        fn()
    return int(counter.get_total_flops())


def depth_errors(out: torch.Tensor, ref: torch.Tensor) -> Dict[str, float]:
    """Relative errors of ``out`` against ``ref`` (metric depth > 0)."""
    out = out.detach().float().cpu()
    ref = ref.detach().float().cpu()
    rel = (out - ref).abs() / ref.abs().clamp_min(1e-12)
    return dict(
        max_rel_err=float(rel.max()),
        mean_rel_err=float(rel.mean()),
        max_abs_err_m=float((out - ref).abs().max()))


# ------------------------------------------------------------------ modes
def _model_info(model: nn.Module) -> Dict[str, int]:
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters()
                             if p.requires_grad))


def bench_infer(cfg, args: argparse.Namespace) -> Dict:
    device = args.device
    bs = args.batch_size or 1
    model = build_model(cfg.model, device, args.checkpoint,
                        not args.no_perturb, args.seed).eval()
    res = dict(_model_info(model))
    inputs = make_inputs(model, bs, device, args.seed)
    if args.compile:
        compile_model(model)

    def run():
        with torch.no_grad(), autocast_ctx(device, args.amp):
            return model.forward_depths(inputs, flip=False)['depth']

    res.update(timed_stats(run, args, device, bs))
    out = run().float()
    if args.compile:
        _uncompile(model)
    if not args.no_flops:
        res['gflop_per_forward'] = count_flops(run) / 1e9 / bs
    if not args.no_compare:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        del model
        ref_model = build_model(
            eager_reference_cfg(cfg.model), device, state_dict=state,
            seed=args.seed).eval()
        with torch.no_grad():
            ref = ref_model.forward_depths(inputs, flip=False)['depth']
        res.update({f'vs_fp32_eager_{k}': v
                    for k, v in depth_errors(out, ref).items()})
    return res


def bench_train(cfg, args: argparse.Namespace) -> Dict:
    device = args.device
    bs = args.batch_size or 1
    model = build_model(cfg.model, device, args.checkpoint,
                        not args.no_perturb, args.seed).train()
    res = dict(_model_info(model))
    inputs = make_inputs(model, bs, device, args.seed)
    samples = make_data_samples(model, bs, device, args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optim_kwargs = dict(fused=True) if args.fused_adamw else {}
    optim = torch.optim.AdamW(
        params, lr=args.lr, weight_decay=0.01, **optim_kwargs)
    if args.compile:
        compile_model(model)
    losses: List[float] = []
    phases = RssPhases() if args.rss_phases else None

    def mark(phase: str) -> None:
        if phases is not None:
            phases.phase = phase

    def step():
        if phases is not None and len(losses) == args.warmup:
            phases.reset()  # peaks of the timed runs only
        optim.zero_grad(set_to_none=True)
        mark('forward')
        with autocast_ctx(device, args.amp):
            loss_dict = model.loss(inputs, samples)
            loss = sum(v for k, v in loss_dict.items() if 'loss' in k)
        mark('backward')
        loss.backward()
        mark('optimizer')
        optim.step()
        mark('between')
        losses.append(float(loss.detach()))

    # Same drop-path draws whatever the switches consumed while building.
    torch.manual_seed(args.seed)
    res.update(timed_stats(step, args, device, bs))
    if phases is not None:
        res['rss_phase_peaks_bytes'] = phases.stop()
    res['losses'] = losses
    if not all(torch.isfinite(torch.tensor(losses))):
        raise FloatingPointError(f'non-finite training loss: {losses}')
    if args.compile:
        _uncompile(model)
    if not args.no_flops:
        model.eval()

        def fwd():
            with torch.no_grad(), autocast_ctx(device, args.amp):
                return model.forward_depths(inputs, flip=False)['depth']

        res['gflop_per_forward'] = count_flops(fwd) / 1e9 / bs
    return res


def write_random_nyu_mat(path: str, num: int, seed: int = 0) -> None:
    """A random NYU-layout labeled .mat with ``num`` 480x640 images."""
    import numpy as np

    from mmzoe.datasets.utils.nyu_mat import write_nyu_labeled_mat
    rng = np.random.default_rng(seed)

    class _Lazy:

        def __init__(self, fn):
            self.fn = fn

        def __len__(self):
            return num

        def __getitem__(self, i):
            return self.fn(i)

    write_nyu_labeled_mat(
        path,
        images=_Lazy(lambda i: rng.integers(
            0, 256, (480, 640, 3), dtype=np.uint8)),
        depths=_Lazy(lambda i: rng.uniform(0.5, 9.5, (480, 640)).astype(
            np.float32)),
        labels=_Lazy(lambda i: rng.integers(
            0, 895, (480, 640), dtype=np.uint16)))


def bench_data(cfg, args: argparse.Namespace) -> Dict:
    """Samples/s of the configured NYU dataloader."""
    from mmengine.runner import Runner
    key = f'{args.split}_dataloader'
    if key not in cfg:
        raise KeyError(f'{args.config} has no {key} (use a config with data '
                       'settings for --mode data)')
    loader_cfg = cfg[key].copy()
    loader_cfg.dataset = loader_cfg.dataset.copy()
    tmp = None
    data_file = args.data_file
    if args.synthetic:
        tmp = tempfile.TemporaryDirectory(prefix='mmzoe_bench_')
        data_file = osp.join(tmp.name, 'synthetic_nyu.mat')
        t0 = time.perf_counter()
        write_random_nyu_mat(data_file, args.synthetic, args.seed)
        print(f'wrote {data_file} ({args.synthetic} images) in '
              f'{time.perf_counter() - t0:.1f} s')
        split = loader_cfg.dataset.get('split', 'random')
        if split in ('official', 'file'):
            loader_cfg.dataset.split = 'all'
        if loader_cfg.dataset.get('num_val') is not None and \
                loader_cfg.dataset.num_val >= args.synthetic:
            loader_cfg.dataset.num_val = None
    if data_file is not None:
        if not osp.isfile(data_file):
            raise FileNotFoundError(f'--data-file not found: {data_file}')
        loader_cfg.dataset.data_root = osp.dirname(osp.abspath(data_file))
        loader_cfg.dataset.ann_file = osp.basename(data_file)
    if args.batch_size is not None:
        loader_cfg.batch_size = args.batch_size
    if args.num_workers is not None:
        loader_cfg.num_workers = args.num_workers
        if args.num_workers == 0:
            loader_cfg.persistent_workers = False
    # An infinite sampler keeps the loader going for any --repeats.
    loader_cfg.sampler = dict(type='InfiniteSampler', shuffle=True)
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    bs = loader_cfg.batch_size
    it = iter(loader)
    t0 = time.perf_counter()
    next(it)
    first = time.perf_counter() - t0
    res = timed_stats(lambda: next(it), args, 'cpu', bs)
    times = res['times_s']
    res.update(
        samples_per_s=bs * len(times) / sum(times),
        batch_size=bs,
        num_workers=loader_cfg.num_workers,
        first_batch_s=first,
        dataset_len=len(loader.dataset))
    del it, loader
    if tmp is not None:
        tmp.cleanup()
    return res


# ------------------------------------------------------------------ main
def machine_probe(repeats: int = 3) -> Dict[str, float]:
    """The speed of this (shared) CPU right now: fp32 matmul GFLOP/s (2048²,
    the machine's compute) and copy GB/s (40 MB, its memory), best of
    ``repeats``. Printed with every CPU result: a busy or throttled host
    shows up here, not only in the latency."""
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    src = torch.randn(10 * 2**20)
    dst = torch.empty_like(src)
    a @ b
    dst.copy_(src)
    gflops, gbs = 0.0, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        gflops = max(gflops, 5 * 2 * 2048**3 / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(10):
            dst.copy_(src)
        gbs = max(gbs, 10 * 2 * src.numel() * 4 / (time.perf_counter() - t0))
    return dict(matmul_gflops=gflops / 1e9, copy_gbs=gbs / 1e9)


def _environment(args: argparse.Namespace) -> Dict:
    env = dict(
        torch=torch.__version__,
        python=platform.python_version(),
        threads=torch.get_num_threads(),
        cpu=platform.processor() or platform.machine(),
        device=args.device)
    if args.device == 'cuda':
        env['gpu'] = torch.cuda.get_device_name()
    try:
        env['loadavg_start'] = os.getloadavg()
    except OSError:
        pass
    if args.device == 'cpu' and args.mode != 'data':
        env['probe_start'] = machine_probe()
    return env


def _fmt_bytes(n: int) -> str:
    return f'{n / 2**30:.2f} GiB'


def report(res: Dict, args: argparse.Namespace) -> None:
    env = res['env']
    switches = ', '.join(f'{k}={v}' for k, v in res['switches'].items())
    print(f'mode {args.mode} | device {args.device} | threads '
          f'{env["threads"]} | torch {env["torch"]} | {switches}')
    if 'params' in res:
        print(f'params {res["params"]:,} (trainable '
              f'{res["trainable_params"]:,})')
    if 'gflop_per_forward' in res:
        print(f'GFLOP per forward (per image): '
              f'{res["gflop_per_forward"]:.2f}')
    print(f'latency median {res["latency_median_s"]:.3f} s, min '
          f'{res["latency_min_s"]:.3f} s, max {res["latency_max_s"]:.3f} s '
          f'over {args.repeats} runs (warm-up {args.warmup}); '
          f'{res["images_per_s"]:.2f} images/s')
    if 'samples_per_s' in res:
        print(f'data: {res["samples_per_s"]:.2f} samples/s (batch '
              f'{res["batch_size"]}, {res["num_workers"]} workers, first '
              f'batch {res["first_batch_s"]:.2f} s)')
    mem = 'allocator peak' if args.device == 'cuda' else (
        'peak RSS of the timed runs' if res['peak_mem_scope'] == 'section'
        else 'peak RSS of the process')
    print(f'{mem}: {_fmt_bytes(res["peak_mem_bytes"])} (process peak RSS '
          f'{_fmt_bytes(res["process_peak_rss_bytes"])})')
    if 'vs_fp32_eager_max_rel_err' in res:
        print(f'metric depth vs eager fp32: max rel '
              f'{res["vs_fp32_eager_max_rel_err"]:.3e}, mean rel '
              f'{res["vs_fp32_eager_mean_rel_err"]:.3e}, max abs '
              f'{res["vs_fp32_eager_max_abs_err_m"]:.3e} m')
    if 'rss_phase_peaks_bytes' in res:
        print('peak RSS by phase (sampled every 2 ms): ' + ', '.join(
            f'{k} {_fmt_bytes(v)}'
            for k, v in res['rss_phase_peaks_bytes'].items()))
    if 'losses' in res:
        print('losses: ' + ', '.join(f'{v:.4f}' for v in res['losses']))
    if 'loadavg_end' in env:
        print(f'load average start {env["loadavg_start"][0]:.2f}, end '
              f'{env["loadavg_end"][0]:.2f}')
    if 'probe_end' in env:
        start, end = env['probe_start'], env['probe_end']
        print(f'machine probe start {start["matmul_gflops"]:.0f} GFLOP/s, '
              f'{start["copy_gbs"]:.1f} GB/s; end '
              f'{end["matmul_gflops"]:.0f} GFLOP/s, {end["copy_gbs"]:.1f} '
              'GB/s')


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    from mmzoe.utils.cpu_runtime import configure_cpu_runtime
    # Before the first large torch op (FTZ is inherited by the intra-op
    # threads only when they are created after it is set).
    cpu_runtime = configure_cpu_runtime(args.cpu_malloc, args.flush_denormal)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    import mmzoe  # noqa: F401
    from mmzoe.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = load_config(args)
    env = _environment(args)
    fn = dict(infer=bench_infer, train=bench_train, data=bench_data)[
        args.mode]
    res = fn(cfg, args)
    try:
        env['loadavg_end'] = os.getloadavg()
    except OSError:
        pass
    if 'probe_start' in env:
        env['probe_end'] = machine_probe()
    res['env'] = env
    res['switches'] = dict(
        amp=args.amp or 'fp32',
        attn_impl=cfg.model.backbone.get('attn_impl', 'timm')
        if args.mode != 'data' else None,
        channels_last=bool(cfg.model.neck.get('channels_last', False))
        if args.mode != 'data' else None,
        **{
            key: bool(cfg.model.decode_head.get(key, False))
            if args.mode != 'data' else None
            for key in _HEAD_SWITCHES
        },
        tf32=args.tf32 if args.device == 'cuda' else None,
        compile=args.compile,
        with_cp=args.with_cp,
        fused_adamw=args.fused_adamw,
        cpu_malloc=cpu_runtime['malloc'],
        flush_denormal=cpu_runtime['flush_denormal'],
        batch_size=args.batch_size or res.get('batch_size', 1))
    report(res, args)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2, default=str)
    return res


if __name__ == '__main__':
    main()
