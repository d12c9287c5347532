"""Compare mmzoe with transformers' ZoeDepthForDepthEstimation (ZoeD_N).

Builds the ZoeD_N configuration of transformers' ZoeDepth conversion script
(BEiT-L-384 backbone hooked at stages 6/12/18/24, neck 256/512/1024/1024,
softplus bins, one 64-bin head for 1e-3..10 m) with random weights (seeded;
perturbed like the upstream harness: LayerNorm weights 1 + 0.1·N(0,1), every
other parameter + 0.02·N(0,1), so the zero-initialised relative position
bias tables matter), saves it with ``save_pretrained`` (``model.safetensors``
+ ``config.json``), converts the folder with
``tools/model_converters/hf_zoedepth_to_mmzoe.py``, loads the result with
``mmzoe.apis.init_model`` and compares metric depth through
``inference_depth`` on uint8 images of each ``--sizes`` entry. transformers
gets the same network input as mmzoe (the image resized bilinearly with
``align_corners=True`` to the config's 384x512 and normalised with mean = std
= 0.5); its output is resized back and clamped as mmzoe does.

    python tools/analysis_tools/check_hf_equivalence.py --sizes 384x512,480x640

``--tiny`` runs a 4-block, 32-wide configuration in seconds. Needs
``transformers`` (a test-only dependency). Exit status 0 when the max
relative error is within ``--tol`` everywhere, 1 otherwise.
"""
import argparse
import os.path as osp
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='384x512,480x640')
    parser.add_argument('--tol', type=float, default=1e-4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--tiny', action='store_true',
                        help='4-block, 32-wide BEiT (seconds)')
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--keep', default=None,
                        help='keep the transformers folder and the '
                        'converted files here')
    return parser.parse_args(argv)


def hf_zoe_n_config(tiny: bool = False):
    """transformers' ZoeD_N configuration (or a tiny one of the same kind)."""
    from transformers import BeitConfig, ZoeDepthConfig
    if tiny:
        backbone = BeitConfig(
            image_size=64, num_hidden_layers=4, hidden_size=32,
            intermediate_size=128, num_attention_heads=2,
            use_relative_position_bias=True, reshape_hidden_states=False,
            out_features=['stage1', 'stage2', 'stage3', 'stage4'])
        return ZoeDepthConfig(
            backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32],
            fusion_hidden_size=16, bottleneck_features=16,
            bin_centers_type='softplus', bin_embedding_dim=16,
            num_attractors=[4, 2, 2, 1],
            bin_configurations=[
                dict(name='nyu', n_bins=16, min_depth=1e-3, max_depth=10.0)
            ])
    backbone = BeitConfig(
        image_size=384, num_hidden_layers=24, hidden_size=1024,
        intermediate_size=4096, num_attention_heads=16,
        use_relative_position_bias=True, reshape_hidden_states=False,
        out_features=['stage6', 'stage12', 'stage18', 'stage24'])
    return ZoeDepthConfig(
        backbone_config=backbone, neck_hidden_sizes=[256, 512, 1024, 1024],
        bin_centers_type='softplus',
        bin_configurations=[
            dict(name='nyu', n_bins=64, min_depth=1e-3, max_depth=10.0)
        ])


def perturb_(model: torch.nn.Module, seed: int) -> None:
    """LayerNorm weights 1 + 0.1·N(0,1), other parameters + 0.02·N(0,1)."""
    gen = torch.Generator().manual_seed(seed + 12345)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            noise = torch.randn(prm.shape, generator=gen)
            if 'layernorm' in name and name.endswith('weight'):
                prm.copy_(1.0 + 0.1 * noise)
            else:
                prm.add_(0.02 * noise)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from transformers import ZoeDepthForDepthEstimation
    except ImportError:
        print('error: transformers is not installed (pip install '
              'transformers)', file=sys.stderr)
        return 2
    sys.path.insert(0, osp.join(_REPO, 'tools', 'model_converters'))
    import hf_zoedepth_to_mmzoe as converter

    from mmzoe.apis import inference_depth, init_model
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    hf = ZoeDepthForDepthEstimation(hf_zoe_n_config(args.tiny)).eval()
    perturb_(hf, args.seed)
    n_hf = sum(p.numel() for p in hf.parameters())
    tmp = tempfile.TemporaryDirectory()
    root = args.keep or tmp.name
    folder = osp.join(root, 'hf_zoedepth')
    hf.save_pretrained(folder)
    ckpt = osp.join(root, 'hf_zoedepth-mmzoe.pth')
    rc = converter.main([folder, ckpt])
    if rc:
        return rc
    config = osp.splitext(ckpt)[0] + '_config.py'
    model = init_model(config, ckpt)
    n_ours = sum(p.numel() for p in model.parameters())
    dp = model.data_preprocessor
    min_d, max_d = model.decode_head.min_depth, model.decode_head.max_depth
    gen = torch.Generator().manual_seed(args.seed)
    ok = True
    for size in args.sizes.split(','):
        h, w = (int(v) for v in size.split('x'))
        img = (torch.rand(h, w, 3, generator=gen) * 255).round().to(
            torch.uint8).numpy()
        with torch.no_grad():
            ours = inference_depth(model, img)
            x = torch.from_numpy(img).permute(2, 0, 1)[None]
            net_in = dp.prepare_batch(x)
            ref = hf(pixel_values=net_in).predicted_depth[:, None]
            ref = F.interpolate(
                ref, size=(h, w), mode='bilinear',
                align_corners=True).clamp(min_d, max_d)[0, 0].numpy()
        err = np.abs(np.asarray(ours, np.float64) - ref) / np.abs(ref)
        ok &= bool(err.max() <= args.tol)
        print(f'{h}x{w} (network {tuple(net_in.shape[-2:])}): metric depth '
              f'max rel {err.max():.3g}, mean rel {err.mean():.3g}, range '
              f'[{ref.min():.4f}, {ref.max():.4f}] m')
    # the log-binomial buffers are not parameters on either side
    print(f'parameters: transformers {n_hf:,}, mmzoe {n_ours:,}')
    ok &= n_hf == n_ours
    print('OK' if ok else f'FAILED (tolerance {args.tol})')
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
