"""CPU latency of ONNX Runtime vs the PyTorch user path, side by side.

Example::

    python tools/deployment/latency_ort_vs_pytorch.py CONFIG CHECKPOINT \\
        zoe_fp32.onnx [zoe_fp16.onnx ...] --size 384 384 --rounds 2 --reps 3

Each side runs in its own process, in turn (A B A B ...), batch 1, with the
same number of threads: PyTorch = ``init_model`` + ``inference_depth``,
ONNX Runtime = ``OnnxDepthPredictor``. Prints the median of ``--reps`` timed
calls (after one warm-up) per side and round, then each side's time as a
ratio of PyTorch's (median over rounds). Only ratios of one run compare on
a machine whose speed drifts.
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
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    sides = [('pytorch', args.config)] + [(f, f) for f in args.onnx]
    times = {name: [] for name, _ in sides}
    for r in range(args.rounds):
        for name, model in sides:
            kind = 'pytorch' if name == 'pytorch' else 'onnxruntime'
            out = subprocess.run(
                [sys.executable, '-c', CHILD, kind, model, args.checkpoint,
                 str(args.size[0]), str(args.size[1]), str(args.reps),
                 str(args.threads)],
                capture_output=True, text=True, env=env)
            lines = [ln for ln in out.stdout.splitlines()
                     if ln.startswith('MEDIAN')]
            if not lines:
                print(f'error: {name}: {out.stderr[-1500:]}', file=sys.stderr)
                return 1
            times[name].append(float(lines[-1].split()[1]))
            print(f'round {r} {name}: {times[name][-1]:.3f} s', flush=True)
    ratios = {
        name: statistics.median(t / p for t, p in zip(ts, times['pytorch']))
        for name, ts in times.items()
    }
    print(json.dumps(dict(size=list(args.size), threads=args.threads,
                          seconds=times, ratio_to_pytorch=ratios)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
