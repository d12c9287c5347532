"""Compare mmzoe with transformers' ZoeDepthForDepthEstimation (ZoeD_N/K/NK).

Builds the ZoeD_N (``--model n``), ZoeD_K (``k``) or ZoeD_NK (``nk``)
configuration of transformers' ZoeDepth conversion script (BEiT-L-384
backbone hooked at stages 6/12/18/24, neck 256/512/1024/1024; N: softplus
bins, one 64-bin head for 1e-3..10 m; K: 'normed' bins, one 64-bin KITTI
head for 1e-3..80 m, the range of the released ``Intel/zoedepth-kitti``;
NK: both heads and a 4-layer patch-transformer router) with random weights
(seeded;
perturbed like the upstream harness: LayerNorm weights 1 + 0.1·N(0,1), every
other parameter + 0.02·N(0,1), so the zero-initialised relative position
bias tables matter), saves it with ``save_pretrained`` (``model.safetensors``
+ ``config.json``), converts the folder with
``tools/model_converters/hf_zoedepth_to_mmzoe.py``, loads the result with
``mmzoe.apis.init_model`` and compares metric depth through
``inference_depth`` on uint8 images of each ``--sizes`` entry. transformers
gets the same network input as mmzoe (the image resized bilinearly with
``align_corners=True`` to the config's 384x512, aspect ratio kept, sides
multiples of 32, and normalised with mean = std = 0.5); its output is
resized back and clamped as mmzoe does.

    python tools/analysis_tools/check_hf_equivalence.py --sizes 384x512,480x640
    python tools/analysis_tools/check_hf_equivalence.py --model k \
        --sizes 352x1216

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
    parser.add_argument('--model', default='n', choices=['n', 'k', 'nk'],
                        help="ZoeD_N, ZoeD_K ('normed' bins, 80 m) or "
                        'ZoeD_NK (router with 4 layers)')
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--keep', default=None,
                        help='keep the transformers folder and the '
                        'converted files here')
    return parser.parse_args(argv)


_NYU_BINS = dict(name='nyu', n_bins=64, min_depth=1e-3, max_depth=10.0)
_KITTI_BINS = dict(name='kitti', n_bins=64, min_depth=1e-3, max_depth=80.0)
# model -> (bin configurations, bin_centers_type) as transformers'
# conversion script sets them; its ZoeD_K keeps the NYU entry's 10 m, the
# released Intel/zoedepth-kitti config.json says kitti / 80 m (used here)
_BINS = dict(n=([_NYU_BINS], 'softplus'), k=([_KITTI_BINS], 'normed'),
             nk=([_NYU_BINS, _KITTI_BINS], 'softplus'))
_NK_ROUTER = dict(
    num_patch_transformer_layers=4, patch_transformer_hidden_size=128,
    patch_transformer_intermediate_size=1024,
    patch_transformer_num_attention_heads=4)


def hf_zoe_config(model: str = 'n', tiny: bool = False):
    """transformers' configuration of ZoeD_N, ZoeD_K or ZoeD_NK (``model``
    'n', 'k', 'nk') as its conversion script builds it, or a tiny one of
    the same kind (4 blocks, 32 wide, 16 bins)."""
    from transformers import BeitConfig, ZoeDepthConfig
    bins, bin_type = _BINS[model]
    extra = dict(bin_centers_type=bin_type, bin_configurations=[
        dict(b, n_bins=16 if tiny else 64) for b in bins])
    if model == 'nk':
        extra.update(_NK_ROUTER)
        if tiny:
            extra['patch_transformer_intermediate_size'] = 64
    if tiny:
        backbone = BeitConfig(
            image_size=64, num_hidden_layers=4, hidden_size=32,
            intermediate_size=128, num_attention_heads=2,
            use_relative_position_bias=True, reshape_hidden_states=False,
            out_features=['stage1', 'stage2', 'stage3', 'stage4'])
        return ZoeDepthConfig(
            backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32],
            fusion_hidden_size=16, bottleneck_features=16,
            bin_embedding_dim=16, num_attractors=[4, 2, 2, 1], **extra)
    backbone = BeitConfig(
        image_size=384, num_hidden_layers=24, hidden_size=1024,
        intermediate_size=4096, num_attention_heads=16,
        use_relative_position_bias=True, reshape_hidden_states=False,
        out_features=['stage6', 'stage12', 'stage18', 'stage24'])
    return ZoeDepthConfig(
        backbone_config=backbone, neck_hidden_sizes=[256, 512, 1024, 1024],
        **extra)


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
    nk = args.model == 'nk'
    hf = ZoeDepthForDepthEstimation(hf_zoe_config(args.model,
                                                  args.tiny)).eval()
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
    names = [b['name'] for b in hf.config.bin_configurations]
    ranges = {b['name']: (b['min_depth'], b['max_depth'])
              for b in hf.config.bin_configurations}
    gen = torch.Generator().manual_seed(args.seed)
    ok = True
    for size in args.sizes.split(','):
        h, w = (int(v) for v in size.split('x'))
        img = (torch.rand(h, w, 3, generator=gen) * 255).round().to(
            torch.uint8).numpy()
        with torch.no_grad():
            if nk:
                ours, domain = inference_depth(model, img,
                                               return_domain=True)
            else:
                ours, domain = inference_depth(model, img), names[0]
            x = torch.from_numpy(img).permute(2, 0, 1)[None]
            net_in = dp.prepare_batch(x)
            out = hf(pixel_values=net_in)
            hf_domain = names[0] if out.domain_logits is None else names[
                int(out.domain_logits.argmax(-1))]
            min_d, max_d = ranges[hf_domain]
            ref = F.interpolate(
                out.predicted_depth[:, None], size=(h, w), mode='bilinear',
                align_corners=True).clamp(min_d, max_d)[0, 0].numpy()
        if nk:
            print(f'{h}x{w}: domain transformers {hf_domain}, mmzoe '
                  f'{domain}')
            ok &= str(domain) == hf_domain
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
