"""Shared parts of the benchmark tools (``benchmark.py``,
``benchmark_paths.py``, ``benchmark_data.py``): building and perturbing a
model, inputs, timing, peak memory, FLOP counting, the machine probe.

Not a tool itself; the tools import it from their own folder.
"""
import argparse
import contextlib
import os
import platform
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from mmzoe.models.utils import perturb_weights  # noqa: F401 (re-exported)

# ------------------------------------------------------------------ model
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
    if args.device == 'cpu' and args.mode != 'data' and not getattr(
            args, 'no_probe', False):
        env['probe_start'] = machine_probe()
    return env


def _fmt_bytes(n: int) -> str:
    return f'{n / 2**30:.2f} GiB'
