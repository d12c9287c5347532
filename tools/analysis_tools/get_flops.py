"""FLOPs and parameters of a ZoeDepth config (the custom fused ops counted).

The counterpart of MMSegmentation's ``tools/analysis_tools/get_flops.py``
for mmzoe models: a random image of ``--shape`` goes through the model's data
preprocessor (which resizes it to the network size, 384×384 for SwinV2-B)
and the FLOPs of one forward pass to metric depth are counted with

* ``torch`` (default): ``torch.utils.flop_counter`` through the counter of
  ``tools/analysis_tools/benchmark.py``, 2 FLOPs per multiply-add of
  convolutions, matmuls and attention (the CPU flash-attention kernel
  included); element-wise ops, softmax and interpolation are not counted.
  It sees the operators inside the custom autograd functions (fused SwinV2
  attention, fused log-binomial expectation), so a fused model counts as
  much as the same model run in upstream's order.
* ``mmengine`` (``--counter mmengine`` or ``both``): MMEngine's jit-trace
  counter, which mmseg's own ``get_flops.py`` uses: multiply-adds (fvcore's
  convention: "FLOPs" = MACs), plus norms and bilinear upsampling. While
  traced, the fused modules run as plain operators (an opaque custom
  autograd node would count as 0).

``--eager`` counts the upstream-order model instead (timm attention, no
speed switches: the reference of ``docs/benchmarks.md``).

Examples::

    python tools/analysis_tools/get_flops.py \
        configs/_base_/models/zoedepth_swin2b.py --shape 480 640
    python tools/analysis_tools/get_flops.py CONFIG --counter both
    python tools/analysis_tools/get_flops.py CONFIG --eager
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch

HERE = osp.dirname(osp.abspath(__file__))
PROG = 'tools/analysis_tools/get_flops.py'
COUNTERS = ('torch', 'mmengine', 'both')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs of a ZoeDepth config (fused ops counted)')
    parser.add_argument('config', help='config file (with a "model")')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=None,
        help='input image size H [W] before the data preprocessor; default: '
        'the network size')
    parser.add_argument('--counter', choices=COUNTERS, default='torch',
                        help='which FLOP counter (default: torch)')
    parser.add_argument('--eager', action='store_true',
                        help='count the upstream-order model (every speed '
                        'switch of the config off)')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='config overrides, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    return args


def _benchmark():
    """``tools/analysis_tools/benchmark.py`` as a module (its counter)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import benchmark
    return benchmark


def count(args: argparse.Namespace) -> Dict:
    """Count; returns the numbers that :func:`report` prints."""
    bench = _benchmark()
    import mmzoe  # noqa: F401
    from mmzoe.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = bench.load_config(argparse.Namespace(
        config=args.config, cfg_options=args.cfg_options, mode='infer',
        eager=args.eager, attn_impl=None, with_cp=False,
        channels_last=None))
    model = bench.build_model(cfg.model, 'cpu', perturb=False)
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None  # training only, as mmseg's get_flops
    model.eval()
    net = tuple(bench.network_size(model))
    if args.shape is None:
        shape = net
    else:
        shape = tuple(args.shape) * (2 // len(args.shape))
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(0)
    img = (torch.rand((3, ) + shape, generator=gen) * 255).round()
    meta = dict(ori_shape=shape, img_shape=shape, pad_shape=shape)
    data = model.data_preprocessor(
        dict(inputs=[img], data_samples=[SegDataSample(metainfo=meta)]))
    inputs = data['inputs']
    res = dict(config=args.config, shape=shape,
               network_shape=tuple(inputs.shape[-2:]),
               params=sum(p.numel() for p in model.parameters()),
               eager=args.eager)
    if args.counter in ('torch', 'both'):
        with torch.no_grad():
            res['torch_flops'] = bench.count_flops(
                lambda: model(inputs, mode='tensor'))
    if args.counter in ('mmengine', 'both'):
        from mmengine.analysis import get_model_complexity_info
        with _quiet_mmengine():
            out = get_model_complexity_info(
                model, inputs=(inputs, ), show_table=False, show_arch=False)
        res['mmengine_flops'] = int(out['flops'])
    return res


class _quiet_mmengine:
    """MMEngine's counter logs every operator it skips (element-wise ops)
    and every module the trace did not call (the unused upstream
    ``refinenet4.resConfUnit1``) as warnings; the notes printed by
    :func:`report` say what is counted instead."""

    def __enter__(self):
        from mmengine.logging import MMLogger
        self.logger = MMLogger.get_current_instance()
        self.level = self.logger.level
        self.logger.setLevel('ERROR')

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def report(res: Dict) -> None:
    h, w = res['shape']
    nh, nw = res['network_shape']
    what = 'upstream-order model (--eager)' if res['eager'] else 'model'
    print(f'{res["config"]}: {what}, {res["params"] / 1e6:.2f} M parameters '
          '(auxiliary head removed)')
    print(f'input 3x{h}x{w} -> network input 3x{nh}x{nw} (the data '
          'preprocessor resizes)')
    if 'torch_flops' in res:
        print(f'torch.utils.flop_counter: {res["torch_flops"] / 1e9:.3f} '
              'GFLOP per image (2 per multiply-add of conv / matmul / '
              'attention)')
    if 'mmengine_flops' in res:
        print(f'mmengine.analysis (mmseg get_flops.py\'s counter): '
              f'{res["mmengine_flops"] / 1e9:.3f} G "FLOPs" = '
              'multiply-adds (+ norms, upsampling)')


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'{PROG}: error: config file not found: {args.config}',
              file=sys.stderr)
        sys.exit(2)
    res = count(args)
    report(res)
    return res


if __name__ == '__main__':
    main()
