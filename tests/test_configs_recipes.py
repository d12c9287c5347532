"""The training recipes as configs (issue 6): values, loop, mixing into mmseg."""
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine import Config
from torch.utils.data import DataLoader

import mmzoe  # noqa: F401
from mmzoe.datasets.nyu_labeled import random_split_indices
from mmzoe.engine import ZoeEpochBasedTrainLoop

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def _check_onecycle(cfg, epochs):
    opt = cfg.optim_wrapper
    assert opt.optimizer.type == 'AdamW'
    assert opt.optimizer.lr == pytest.approx(1.61e-4)
    assert opt.optimizer.weight_decay == pytest.approx(0.01)
    assert opt.optimizer.fused is True
    assert opt.constructor == 'ZoeDepthOptimWrapperConstructor'
    assert opt.clip_grad.max_norm == pytest.approx(0.1)
    lr, mom = cfg.param_scheduler
    assert lr.type == 'ZoeOneCycleLR' and mom.type == 'ZoeOneCycleMomentum'
    for s in (lr, mom):
        assert s.pct_start == pytest.approx(0.7)
        assert s.three_phase is False and s.anneal_strategy == 'cos'
        assert (s.begin, s.end) == (0, epochs)
        assert s.by_epoch and s.convert_to_iter_based
    assert lr.div_factor == 1 and lr.final_div_factor == pytest.approx(1e4)
    assert lr.eta_max is None  # each group's own lr, as upstream
    assert (mom.base_momentum, mom.max_momentum) == (0.85, 0.95)
    assert cfg.train_cfg.type == 'ZoeEpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_cfg.val_interval == pytest.approx(0.25)
    ckpt = cfg.default_hooks.checkpoint
    assert (ckpt.save_best, ckpt.rule) == ('abs_rel', 'less')


def _quarter_epoch_interval(cfg, num_train):
    """Build the configured train loop on a loader of the configured size."""
    loader = DataLoader(list(range(num_train)),
                        batch_size=cfg.train_dataloader.batch_size)
    loop = ZoeEpochBasedTrainLoop(
        mock.MagicMock(), loader,
        max_epochs=cfg.train_cfg.max_epochs,
        val_interval=cfg.train_cfg.val_interval)
    return len(loader), loop.val_iter_interval


@pytest.mark.parametrize('name', [
    'zoe_segdistill_nyu.py',
    'zoedepth/zoe_segdistill_swin2b_nyu-384x384.py',
])
def test_report_recipe_values(name):
    cfg = _cfg(name)
    _check_onecycle(cfg, epochs=100)
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'NYUv2LabeledDataset' and ds.with_labels
    assert (ds.split, ds.subset) == ('random', 'train')
    assert cfg.val_dataloader.dataset.subset == 'val'
    assert cfg.train_dataloader.batch_size == 3
    assert cfg.model.data_preprocessor.size == (384, 384)
    assert cfg.model.core_checkpoint.endswith('.pth')
    aux = cfg.model.auxiliary_head
    assert aux.type == 'ZoeUNetSegHead' and aux.num_classes == 14
    assert aux.lambda_dis == pytest.approx(0.1)
    assert aux.dice_ratio == pytest.approx(0.5)
    # the report: 1449 labeled images split 80/20 at random -> 1158 train
    train_idx = random_split_indices(1449, 'train', ds.seed, 0.2,
                                     ds.num_val)
    assert len(train_idx) == 1158
    iters, interval = _quarter_epoch_interval(cfg, len(train_idx))
    assert iters == 386 and interval == iters // 4 == 96


def test_ablation_has_no_seg_branch():
    cfg = _cfg('zoedepth/zoe_swin2b_nyu-384x384.py')
    _check_onecycle(cfg, epochs=100)
    assert 'auxiliary_head' not in cfg.model
    assert cfg.train_dataloader.dataset.with_labels is False


def test_upstream_eigen_recipe_values():
    cfg = _cfg('zoedepth/zoedepth_swin2b_nyu-eigen.py')
    _check_onecycle(cfg, epochs=5)
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.optim_wrapper.paramwise_cfg == dict(
        encoder_lr_factor=10, pos_enc_lr_factor=10, decoder_lr_factor=1)
    assert cfg.train_dataloader.dataset.type == 'NYUEigenDataset'
    assert cfg.randomness.seed == 43
    iters, interval = _quarter_epoch_interval(cfg, 24231)
    assert iters == 1515 and interval == int(0.25 * 1515)


@pytest.mark.parametrize('name,min_depth', [
    ('zoedepth/zoedepth_swin2b_eval_nyu-official654.py', 1e-3),
    ('zoedepth/zoedepth_swin2b_eval_ibims1.py', 0.0),
])
def test_eval_configs(name, min_depth):
    cfg = _cfg(name)
    assert cfg.model.test_cfg.flip is True
    ev = cfg.test_evaluator
    assert ev.type == 'ZoeDepthMetric' and ev.crop == 'eigen'
    assert (ev.min_depth, ev.max_depth) == (min_depth, 10.0)


def test_param_groups_of_base_model():
    """Upstream's groups on the real SwinV2-B model (spec §8.3)."""
    from mmzoe.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    from mmzoe.utils import register_all_modules
    register_all_modules()
    cfg = _cfg('zoedepth/zoedepth_swin2b_nyu-eigen.py')
    cfg.model.core_checkpoint = None
    model = MODELS.build(cfg.model)
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=cfg.optim_wrapper.constructor,
             optim_wrapper_cfg=dict(
                 type='OptimWrapper',
                 optimizer=cfg.optim_wrapper.optimizer),
             paramwise_cfg=cfg.optim_wrapper.paramwise_cfg))
    groups = ctor(model).optimizer.param_groups
    counts = {g['name']: sum(p.numel() for p in g['params']) for g in groups}
    lrs = {g['name']: g['lr'] for g in groups}
    # encoder as used (no classifier / final norm), DPT neck + relative head
    # without refinenet4's never-used first residual unit, metric head
    assert counts == dict(encoder=86_891_768, decoder=13_279_937,
                          head=478_145)
    assert lrs == pytest.approx(dict(encoder=1.61e-5, decoder=1.61e-4,
                                     head=1.61e-4))


def test_mmseg_scoped_config_mixes_our_parts():
    """A plain mmseg config: mmseg's ResNetV1c + our DPT neck + metric head."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as MMSEG_MODELS
    cfg = Config(dict(
        default_scope='mmseg',
        custom_imports=dict(imports=['mmzoe'], allow_failed_imports=False),
        model=dict(
            type='mmzoe.ZoeDepthEstimator',
            data_preprocessor=dict(type='mmzoe.ZoeDepthDataPreProcessor',
                                   size=(64, 64)),
            backbone=dict(type='ResNetV1c', depth=18, num_stages=4,
                          out_indices=(0, 1, 2, 3), norm_eval=False),
            neck=dict(type='mmzoe.ZoeDPTNeck',
                      in_channels=[64, 128, 256, 512], channels=16,
                      relative_head=dict(type='mmzoe.ZoeRelativeDepthHead',
                                         feat_channels=8)),
            decode_head=dict(
                type='mmzoe.ZoeDepthHead',
                in_channels=16, out_conv_channels=8,
                n_bins=8, bin_embedding_dim=8, n_attractors=[4, 2, 2, 1]),
            test_cfg=dict(mode='whole'))))
    from mmengine.utils import import_modules_from_strings
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MMSEG_MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'ResNetV1c'
    from mmengine.optim import OptimWrapper
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(ori_shape=(40, 56), img_shape=(40, 56)))
        s.gt_depth_map = PixelData(data=torch.rand(1, 40, 56) * 5 + 0.5)
        samples.append(s)
    data = dict(inputs=[torch.randint(0, 256, (3, 40, 56), dtype=torch.uint8)
                        for _ in range(2)], data_samples=samples)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.backbone.stem[0].weight.detach().clone()
    log = model.train_step(data, wrapper)
    assert torch.isfinite(log['loss'])
    assert 'decode.loss_silog' in log
    assert not torch.equal(before, model.backbone.stem[0].weight)
