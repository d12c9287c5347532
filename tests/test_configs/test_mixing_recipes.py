"""The mixing recipes of configs/mixing/ (README "Mixing with mmseg"):

1. mmseg's MiT-B0 -> ZoeDPTNeck -> ZoeDepthHead + ZoeUNetSegHead (mmzoe
   scope), with the recipe's optimizer constructor;
2. ZoeSwinV2 -> mmseg's EncoderDecoder + UPerHead (a plain mmseg config).

Each config is loaded as shipped, its data pipeline runs on a tiny generated
NYU-layout ``.mat``, and one optimisation step runs on that batch (the
network is shrunk for 2 CPU cores where noted; the structure and types are
the config's).
"""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmzoe  # noqa: F401

from zoe_testing import REPO

MIXING = osp.join(REPO, 'configs', 'mixing')
MIT = osp.join(MIXING, 'zoedepth_mit-b0_segdistill_nyu-384x384.py')
UPER = osp.join(MIXING, 'upernet_zoeswinv2-t_nyu13-seg-256x256.py')


@pytest.fixture(scope='module')
def tiny_mat(tmp_path_factory) -> str:
    spec = importlib.util.spec_from_file_location(
        'make_tiny_nyu', osp.join(REPO, 'tests', 'configs',
                                  'make_tiny_nyu.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = str(tmp_path_factory.mktemp('mixing'))
    module.make_tiny_nyu(osp.join(root, 'tiny_nyu.mat'), num=2, height=40,
                         width=56)
    return root


def _batch(cfg: Config, root: str, split: str = 'train') -> dict:
    """Two samples through the config's own dataset pipeline."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS
    ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
    ds_cfg.update(data_root=root, ann_file='tiny_nyu.mat', split='all')
    ds_cfg.pop('subset', None)
    for key in ('seed', 'num_val'):
        ds_cfg.pop(key, None)
    dataset = DATASETS.build(ds_cfg)
    return pseudo_collate([dataset[0], dataset[1]])


def _one_step(model, optim_wrapper, data: dict) -> dict:
    model.train()
    before = [p.detach().clone() for p in model.parameters()
              if p.requires_grad]
    log_vars = model.train_step(data, optim_wrapper)
    after = [p for p in model.parameters() if p.requires_grad]
    changed = sum(not torch.equal(a, b) for a, b in zip(before, after))
    assert changed > 0
    return log_vars


def test_mit_backbone_in_zoedepth(tiny_mat):
    cfg = Config.fromfile(MIT)
    assert cfg.default_scope == 'mmzoe'
    # 128x128 network input instead of 384 (MiT takes any size): 2 CPU cores
    cfg.model.data_preprocessor.size = (128, 128)
    from mmzoe.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmzoe'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        assert type(model.backbone).__name__ == 'MixVisionTransformer'
        assert type(model.backbone).__module__.startswith('mmseg.')
        assert type(model.neck).__name__ == 'ZoeDPTNeck'
        assert type(model.decode_head).__name__ == 'ZoeDepthHead'
        assert type(model.auxiliary_head).__name__ == 'ZoeUNetSegHead'
        # the recipe's optimizer constructor (encoder lr / 10, ...)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = _batch(cfg, tiny_mat)
        log_vars = _one_step(model, optim_wrapper, data)
    for key in ('decode.loss_silog', 'aux.loss_dice', 'aux.loss_focal'):
        assert key in log_vars and torch.isfinite(
            torch.as_tensor(log_vars[key])), (key, log_vars)
    model.eval()
    with torch.no_grad(), DefaultScope.overwrite_default_scope('mmzoe'):
        data = _batch(cfg, tiny_mat, 'val')
        out = model.test_step(data)
    assert out[0].pred_depth_map.data.shape == (1, 40, 56)


def test_zoeswinv2_in_mmseg_encoder_decoder(tiny_mat):
    cfg = Config.fromfile(UPER)
    assert cfg.default_scope == 'mmseg'
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        # the shipped size builds (SwinV2-T, 256x256) ...
        full = MODELS.build(cfg.model)
        assert type(full.backbone).__name__ == 'ZoeSwinV2'
        assert type(full.decode_head).__name__ == 'UPerHead'
        del full
        # ... and a narrow copy (same types and input size) trains one step
        cfg.model.backbone.update(embed_dim=16, depths=(1, 1, 1, 1),
                                  num_heads=(1, 1, 2, 2))
        cfg.model.decode_head.update(in_channels=[16, 32, 64, 128],
                                     channels=16)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = _batch(cfg, tiny_mat)
        assert data['inputs'][0].shape == (3, 256, 256)
        log_vars = _one_step(model, optim_wrapper, data)
        assert torch.isfinite(torch.as_tensor(log_vars['decode.loss_ce']))
        model.eval()
        with torch.no_grad():
            out = model.test_step(_batch(cfg, tiny_mat, 'val'))
    # mmseg resizes the prediction back to the original image
    assert out[0].pred_sem_seg.data.shape == (1, 40, 56)
    assert int(out[0].pred_sem_seg.data.max()) < 14
