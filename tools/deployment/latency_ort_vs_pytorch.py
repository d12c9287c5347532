"""CPU latency of ONNX Runtime vs the PyTorch user path, side by side.

Example::

    python tools/deployment/latency_ort_vs_pytorch.py CONFIG CHECKPOINT \\
        zoe_fp32.onnx [zoe_fp16.onnx ...] --size 384 384 --rounds 2 --reps 3 \\
        [--upstream-python ZOEREF/venv/bin/python --upstream-zoedepth DIR \\
         --upstream-midas DIR]

Each side runs in its own process, in turn (A B A B ...), batch 1, with the
same number of threads: PyTorch = ``init_model`` + ``inference_depth``,
ONNX Runtime = ``OnnxDepthPredictor``. With ``--upstream-*``, upstream
ZoeDepth itself is a third side "at its best": built from local checkouts of
github.com/isl-org/ZoeDepth and github.com/isl-org/MiDaS (its own
environment: upstream needs timm 0.6.x) with its own random weights (speed
does not depend on the values), denormals flushed and glibc keeping freed
memory (``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647``), timed on
``model(x)['metric_depth']`` of a preprocessed 384x384 tensor in fp32 (the
row ONNX fp32 compares with). Prints the median of ``--reps`` timed calls
(after one warm-up) per side and round, then each side's time as a ratio of
PyTorch's and of upstream's (medians over rounds). Only ratios of one run
compare on a machine whose speed drifts.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import sys, time, warnings, numpy as np, torch
warnings.simplefilter('ignore')
kind, model, ckpt, h, w, reps, threads = sys.argv[1:8]
torch.set_num_threads(int(threads))
img = (np.random.default_rng(0).random((int(h), int(w), 3)) * 255).astype(
    np.uint8)
if kind == 'pytorch':
    from mmzoe.apis import inference_depth, init_model
    net = init_model(model, ckpt)
    fn = lambda: inference_depth(net, img)
else:
    from mmzoe.apis import OnnxDepthPredictor
    pred = OnnxDepthPredictor(model, num_threads=int(threads))
    fn = lambda: pred(img)
fn()
ts = []
for _ in range(int(reps)):
    t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
print('MEDIAN', sorted(ts)[len(ts) // 2])
'''

# Upstream ZoeDepth through its own public builder (no code of it here). Its
# MiDaS core is loaded with torch.hub from the local MiDaS checkout, never
# from the network, and without pretrained weights.
UPSTREAM_CHILD = r'''
import sys, time, warnings, torch
warnings.simplefilter('ignore')
zoe_dir, midas_dir, h, w, reps, threads = sys.argv[1:7]
torch.set_num_threads(int(threads))
torch.set_flush_denormal(True)
sys.path.insert(0, zoe_dir)
hub_load = torch.hub.load
def local_load(repo, model, *a, **kw):
    kw.pop('force_reload', None)
    kw['pretrained'] = False
    return hub_load(midas_dir, model, *a, source='local', **kw)
torch.hub.load = local_load
from zoedepth.models.builder import build_model
from zoedepth.utils.config import get_config
cfg = get_config('zoedepth', 'infer', midas_model_type='DPT_SwinV2_B_384',
                 use_pretrained_midas=False, pretrained_resource=None,
                 img_size=[int(h), int(w)])
model = build_model(cfg).eval()
x = torch.rand(1, 3, int(h), int(w))
def fn():
    with torch.no_grad():
        return model(x)['metric_depth']
fn()
ts = []
for _ in range(int(reps)):
    t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
print('MEDIAN', sorted(ts)[len(ts) // 2])
'''


def _run_side(cmd, env, name):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('MEDIAN')]
    if not lines:
        print(f'error: {name}: {out.stderr[-1500:]}', file=sys.stderr)
        return None
    return float(lines[-1].split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('onnx', nargs='+', help='.onnx files to time')
    parser.add_argument('--size', type=int, nargs=2, default=(384, 384),
                        metavar=('H', 'W'), help='image size')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--upstream-python',
        help='python of an environment that runs upstream ZoeDepth (timm '
        '0.6.x); adds upstream at its best as a side')
    parser.add_argument('--upstream-zoedepth',
                        help='local checkout of isl-org/ZoeDepth')
    parser.add_argument('--upstream-midas',
                        help='local checkout of isl-org/MiDaS')
    args = parser.parse_args()
    upstream = [args.upstream_python, args.upstream_zoedepth,
                args.upstream_midas]
    if any(upstream) and not all(upstream):
        parser.error('--upstream-python, --upstream-zoedepth and '
                     '--upstream-midas go together')
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    size = [str(args.size[0]), str(args.size[1])]
    sides = [('pytorch', [sys.executable, '-c', CHILD, 'pytorch',
                          args.config, args.checkpoint, *size,
                          str(args.reps), str(args.threads)], env)]
    sides += [(f, [sys.executable, '-c', CHILD, 'onnxruntime', f,
                   args.checkpoint, *size, str(args.reps),
                   str(args.threads)], env) for f in args.onnx]
    if all(upstream):
        up_env = dict(env, MALLOC_MMAP_MAX_='0',
                      MALLOC_TRIM_THRESHOLD_='2147483647')
        sides.append(('upstream', [
            args.upstream_python, '-c', UPSTREAM_CHILD,
            os.path.abspath(args.upstream_zoedepth),
            os.path.abspath(args.upstream_midas), *size, str(args.reps),
            str(args.threads)
        ], up_env))
    times = {name: [] for name, _, _ in sides}
    for r in range(args.rounds):
        for name, cmd, side_env in sides:
            t = _run_side(cmd, side_env, name)
            if t is None:
                return 1
            times[name].append(t)
            print(f'round {r} {name}: {t:.3f} s', flush=True)

    def ratio_to(ref):
        return {
            name: statistics.median(t / p for t, p in zip(ts, times[ref]))
            for name, ts in times.items()
        }

    result = dict(size=list(args.size), threads=args.threads,
                  seconds=times, ratio_to_pytorch=ratio_to('pytorch'))
    if 'upstream' in times:
        result['ratio_to_upstream'] = ratio_to('upstream')
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
