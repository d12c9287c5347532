"""Depth Anything cores: mmzoe against the upstream code, full size.

Runs upstream Depth Anything V2 (relative depth, ViT-S/B/L) and Depth
Anything V1's ``metric_depth`` ZoeDepth model (metric depth, indoor/outdoor)
with random, perturbed weights (norm weights ``1 + 0.1 N(0, 1)``, every
other parameter ``+ 0.02 N(0, 1)``), saves their state dicts in upstream's
checkpoint layout, converts them with mmzoe's converters and compares
mmzoe's ``inference_depth`` output with upstream's on the same images:

* V2 relative: upstream ``DepthAnythingV2.infer_image(bgr, 518)`` (OpenCV
  bicubic keep-ratio resize, lower bound 518, multiple of 14) against
  ``inference_depth(..., return_relative=True)`` with
  ``configs/depth_anything/zoedepth_da2-vit*_relative-518.py``;
* V1 metric: upstream ``ZoeDepth(DepthAnythingCore)`` in its ``eval``
  configuration (images squashed to 392x518 inside the model, indoor and
  outdoor),
  output resized back bilinearly and clamped to the depth range, against
  ``inference_depth(..., flip=False)`` with
  ``configs/depth_anything/zoedepth_da1-vitl_metric-*.py``.

Images: one at upstream's input size (518x518 for V2, 392x518 for V1
metric: no resize on either side) and one 480x640. Parameter counts are
compared too (upstream minus the dropped ``mask_token``).

Nothing upstream is imported into mmzoe: the reference half runs in its own
process, with a Python that has torch, torchvision and OpenCV (mmzoe's venv
has them), from the checkouts given by ``--da1`` / ``--da2``::

    python tools/analysis_tools/depth_anything_equivalence.py \
        --da1 /tmp/zoeref/Depth-Anything --da2 /tmp/zoeref/Depth-Anything-V2 \
        --work-dir /tmp/da/equiv --cases v2-vits v2-vitl v1-metric-indoor

Exit status 0 when every case is within ``--tol`` (default 1e-4) relative
(max |ours - upstream| / max |upstream|), 1 otherwise. Also printed: the
largest element-wise relative difference over the pixels whose upstream
value is at least 1 % of the maximum (relative depth is a ReLU output: near
zero an element-wise ratio says nothing). The half of one case can be rerun
alone: ``--side reference|ours --case CASE --work-dir DIR/CASE``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

V2_ARCHS = {
    'vits': dict(features=64, out_channels=[48, 96, 192, 384]),
    'vitb': dict(features=128, out_channels=[96, 192, 384, 768]),
    'vitl': dict(features=256, out_channels=[256, 512, 1024, 1024]),
}
CASES = {
    'v2-vits': dict(kind='v2', arch='vits', size=(518, 518)),
    'v2-vitb': dict(kind='v2', arch='vitb', size=(518, 518)),
    'v2-vitl': dict(kind='v2', arch='vitl', size=(518, 518)),
    'v1-metric-indoor': dict(kind='v1metric', dataset='nyu',
                             size=(392, 518)),
    'v1-metric-outdoor': dict(kind='v1metric', dataset='kitti',
                              size=(392, 518)),
}
OUR_CONFIGS = {
    'v2-vits': 'configs/depth_anything/zoedepth_da2-vits_relative-518.py',
    'v2-vitb': 'configs/depth_anything/zoedepth_da2-vitb_relative-518.py',
    'v2-vitl': 'configs/depth_anything/zoedepth_da2-vitl_relative-518.py',
    'v1-metric-indoor':
    'configs/depth_anything/zoedepth_da1-vitl_metric-indoor.py',
    'v1-metric-outdoor':
    'configs/depth_anything/zoedepth_da1-vitl_metric-outdoor.py',
}


def _images(size, seed):
    """uint8 RGB test images: ``size`` and 480x640 (smooth + noise)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for h, w in (size, (480, 640)):
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c)
                         for c in (0.0, 1.0, 2.0)], -1)
        img = 127.5 + 90 * base + rng.normal(0, 20, (h, w, 3))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _perturb(model, seed):
    import torch
    gen = torch.Generator().manual_seed(seed + 12345)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            noise = torch.randn(prm.shape, generator=gen)
            if 'norm' in name and name.endswith('weight'):
                prm.copy_(1.0 + 0.1 * noise)
            else:
                prm.add_(0.02 * noise)


# ------------------------------------------------------------- reference side
def reference(args) -> int:
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    case = CASES[args.case]
    os.makedirs(args.work_dir, exist_ok=True)
    images = _images(case['size'], args.seed)
    result = dict(case=args.case)
    if case['kind'] == 'v2':
        sys.path.insert(0, args.da2)
        from depth_anything_v2.dpt import DepthAnythingV2
        arch = case['arch']
        model = DepthAnythingV2(encoder=arch, **V2_ARCHS[arch])
        _perturb(model, args.seed)
        model.eval()
        outs = [model.infer_image(np.ascontiguousarray(img[..., ::-1]), 518)
                for img in images]
    else:
        os.chdir(osp.join(args.da1, 'metric_depth'))  # hub path is relative
        sys.path.insert(0, os.getcwd())
        from zoedepth.models.base_models.depth_anything import \
            DepthAnythingCore
        from zoedepth.models.base_models.dpt_dinov2.dpt import DPT_DINOv2
        from zoedepth.models.zoedepth.zoedepth_v1 import ZoeDepth
        from zoedepth.utils.config import get_config
        conf = dict(get_config('zoedepth', 'eval', case['dataset']))
        # DepthAnythingCore.build without its checkpoint file: the same
        # objects, random weights
        img_size = DepthAnythingCore.parse_img_size(
            dict(img_size=conf['img_size']))['img_size']
        da = DPT_DINOv2(out_channels=[256, 512, 1024, 1024],
                        use_clstoken=False)
        core = DepthAnythingCore(
            da, trainable=False, fetch_features=True, freeze_bn=True,
            img_size=img_size,
            keep_aspect_ratio=bool(conf.get('force_keep_ar', False)))
        core.set_output_channels()
        kwargs = {k: v for k, v in conf.items() if k not in ('img_size', )}
        model = ZoeDepth(core, **kwargs)
        _perturb(model, args.seed)
        model.eval()
        outs = []
        with torch.no_grad():
            for img in images:
                x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
                d = model(x)['metric_depth']
                d = F.interpolate(d, img.shape[:2], mode='bilinear',
                                  align_corners=True)
                outs.append(d.clamp(conf['min_depth'],
                                    conf['max_depth'])[0, 0].numpy())
        result['min_depth'] = conf['min_depth']
        result['max_depth'] = conf['max_depth']
        result['img_size'] = list(img_size)
    sd = model.state_dict()
    result['upstream_params'] = sum(p.numel() for p in model.parameters())
    result['mask_token_params'] = sum(
        p.numel() for n, p in model.named_parameters()
        if n.endswith('mask_token'))
    torch.save(sd, osp.join(args.work_dir, 'upstream.pth'))
    for i, (img, out) in enumerate(zip(images, outs)):
        np.save(osp.join(args.work_dir, f'image{i}.npy'), img)
        np.save(osp.join(args.work_dir, f'upstream{i}.npy'),
                np.asarray(out, np.float32))
    with open(osp.join(args.work_dir, 'reference.json'), 'w') as f:
        json.dump(result, f)
    return 0


def fixture(args) -> int:
    """Write the tiny upstream test vector of ``tests/test_models_dinov2.py``.

    A Depth Anything V2 model of upstream's classes with tiny sizes (DINOv2
    ViT: 24 wide, 4 blocks, 2 heads, 4x4 position grid; DPT head: width 8,
    projections 8/16/24/24, ``use_clstoken=True``), perturbed, run on a
    42x70 input (3x5 patches: the position embedding is resampled).
    """
    from functools import partial

    import torch
    sys.path.insert(0, args.da2)
    from depth_anything_v2.dinov2 import DinoVisionTransformer
    from depth_anything_v2.dinov2_layers import MemEffAttention
    from depth_anything_v2.dinov2_layers.block import Block
    from depth_anything_v2.dpt import DPTHead
    torch.manual_seed(args.seed)
    model = torch.nn.Module()
    model.pretrained = DinoVisionTransformer(
        img_size=56, patch_size=14, embed_dim=24, depth=4, num_heads=2,
        mlp_ratio=4, block_fn=partial(Block, attn_class=MemEffAttention),
        init_values=1.0, block_chunks=0, num_register_tokens=0,
        interpolate_antialias=False, interpolate_offset=0.1)
    model.depth_head = DPTHead(24, 8, False, out_channels=[8, 16, 24, 24],
                               use_clstoken=True)
    _perturb(model, args.seed)
    model.eval()
    x = torch.randn(1, 3, 42, 70, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = model.pretrained.get_intermediate_layers(
            x, [0, 1, 2, 3], return_class_token=True)
        rel = torch.relu(model.depth_head(feats, 3, 5)).squeeze(1)
        pos = model.pretrained.interpolate_pos_encoding(
            torch.zeros(1, 16, 24), 42, 70)
    path = args.out or osp.join(REPO, 'tests', 'data',
                                'depth_anything_v2_tiny.pt')
    torch.save(
        dict(state_dict={k: v.clone() for k, v in model.state_dict().items()},
             input=x, rel_depth=rel, pos_embed_42x70=pos,
             features=[f.clone() for f, _ in feats],
             cls_tokens=[c.clone() for _, c in feats],
             note='tools/analysis_tools/depth_anything_equivalence.py '
             '--side fixture'), path)
    print(f'wrote {path}')
    return 0


# ------------------------------------------------------------------ our side
def ours(args) -> int:
    import numpy as np
    import torch
    sys.path.insert(0, REPO)
    from mmengine import Config

    from mmzoe.apis import inference_depth, init_model
    from mmzoe.models.utils.ckpt_convert import (
        convert_depth_anything_keys, convert_depth_anything_metric_keys,
        load_state_dict_file)
    torch.set_num_threads(args.threads)
    with open(osp.join(args.work_dir, 'reference.json')) as f:
        ref = json.load(f)
    case = CASES[args.case]
    upstream = load_state_dict_file(osp.join(args.work_dir, 'upstream.pth'))
    cfg = Config.fromfile(osp.join(REPO, OUR_CONFIGS[args.case]))
    cfg.model.core_checkpoint = None
    ckpt = osp.join(args.work_dir, 'converted.pth')
    if case['kind'] == 'v2':
        # relative depth only: a converted core, loaded into a model whose
        # metric head keeps its random weights
        torch.save(dict(state_dict=convert_depth_anything_keys(upstream)),
                   ckpt)
        model = init_model(cfg)
        model.load_core_checkpoint(ckpt)
        n_ours = sum(p.numel() for n, p in model.named_parameters()
                     if n.startswith(('backbone.', 'neck.')))
    else:
        torch.save(
            dict(state_dict=convert_depth_anything_metric_keys(upstream)),
            ckpt)
        model = init_model(cfg, ckpt)
        n_ours = sum(p.numel() for n, p in model.named_parameters()
                     if not n.startswith('auxiliary_head.'))
    report = dict(case=args.case, upstream_params=ref['upstream_params'],
                  mask_token_params=ref['mask_token_params'],
                  ours_params=n_ours,
                  params_equal=(n_ours == ref['upstream_params'] -
                                ref['mask_token_params']),
                  images=[])
    ok = report['params_equal']
    for i in range(2):
        img = np.load(osp.join(args.work_dir, f'image{i}.npy'))
        up = np.load(osp.join(args.work_dir, f'upstream{i}.npy'))
        if case['kind'] == 'v2':
            _, out = inference_depth(model, img, flip=False,
                                     return_relative=True)
        else:
            out = inference_depth(model, img, flip=False)
        np.save(osp.join(args.work_dir, f'ours{i}.npy'), out)
        diff = np.abs(out.astype(np.float64) - up)
        scale = max(float(np.abs(up).max()), 1e-12)
        rel = float(diff.max() / scale)
        # element-wise, where the value is not (ReLU-)close to zero
        big = np.abs(up) >= 1e-2 * scale
        elem = float((diff[big] / np.abs(up[big])).max())
        report['images'].append(
            dict(shape=list(img.shape[:2]), max_abs_diff=float(diff.max()),
                 max_abs_upstream=scale, rel=rel,
                 max_elementwise_rel_above_1pct=elem,
                 frac_pixels_above_1pct=float(big.mean())))
        ok = ok and rel <= args.tol
    if args.fp64_floor:
        report['fp64_floor'] = _fp64_floor(model, case, args.work_dir)
    report['ok'] = bool(ok)
    print(json.dumps(report))
    return 0 if ok else 1


def _fp64_floor(model, case, work_dir) -> dict:
    """fp32 rounding of the model itself on image 0 (no resize): ours
    and upstream's fp32 outputs against ours in float64."""
    import numpy as np
    import torch
    img = np.load(osp.join(work_dir, 'image0.npy'))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    key = 'rel' if case['kind'] == 'v2' else 'depth'
    outs = {}
    with torch.no_grad():
        inp = model.data_preprocessor.prepare_batch(x)
        for name, dtype in (('fp32', torch.float32), ('fp64', torch.float64)):
            model.to(dtype)
            res = model.forward_depths(inp.to(dtype), flip=False,
                                       with_rel=True)
            outs[name] = res['rel_depth' if key == 'rel' else 'depth']
        model.float()
    ref64 = outs['fp64'].double()
    if key == 'depth':
        ref64 = ref64.clamp(float(model.decode_head.min_depth),
                            float(model.decode_head.max_depth))
        outs['fp32'] = outs['fp32'].clamp(
            float(model.decode_head.min_depth),
            float(model.decode_head.max_depth))
    ref64 = ref64[0, 0].numpy()
    up = np.load(osp.join(work_dir, 'upstream0.npy'))
    scale = float(np.abs(ref64).max())
    big = np.abs(ref64) >= 1e-2 * scale
    out = {}
    for name, value in (('ours_fp32', outs['fp32'][0, 0].numpy()),
                        ('upstream_fp32', up)):
        diff = np.abs(value.astype(np.float64) - ref64)
        out[name] = dict(rel=float(diff.max() / scale),
                         max_elementwise_rel_above_1pct=float(
                             (diff[big] / np.abs(ref64[big])).max()))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--da1', default='/tmp/zoeref/Depth-Anything')
    parser.add_argument('--da2', default='/tmp/zoeref/Depth-Anything-V2')
    parser.add_argument('--work-dir', default='/tmp/da/equiv')
    parser.add_argument('--cases', nargs='+', default=list(CASES),
                        choices=list(CASES))
    parser.add_argument('--ref-python', default=sys.executable,
                        help='Python for the upstream half')
    parser.add_argument('--tol', type=float, default=1e-4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--fp64-floor', action='store_true',
        help='also compare ours and upstream (image 0) with ours in float64')
    parser.add_argument('--out', help=argparse.SUPPRESS)
    parser.add_argument('--side', choices=('reference', 'ours', 'fixture'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--case', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side == 'reference':
        return reference(args)
    if args.side == 'ours':
        return ours(args)
    if args.side == 'fixture':
        return fixture(args)
    status = 0
    for case in args.cases:
        work = osp.join(args.work_dir, case)
        common = ['--case', case, '--work-dir', work, '--seed',
                  str(args.seed), '--threads', str(args.threads), '--da1',
                  args.da1, '--da2', args.da2, '--tol', str(args.tol)]
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        proc = subprocess.run(
            [args.ref_python, osp.abspath(__file__), '--side', 'reference']
            + common, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f'{case}: upstream run failed:\n{proc.stderr[-3000:]}')
            status = 1
            continue
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), '--side', 'ours'] +
            common + (['--fp64-floor'] if args.fp64_floor else []), cwd=REPO, env={**os.environ, 'PYTHONPATH': REPO},
            capture_output=True, text=True)
        print(proc.stdout.strip() or f'{case}: ours failed:\n'
              f'{proc.stderr[-3000:]}')
        status = status or proc.returncode
    return status


if __name__ == '__main__':
    sys.exit(main())
