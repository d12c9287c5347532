"""Tests of mmzoe.apis.init_model / inference_depth with the tiny config."""
import copy
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from PIL import Image

import mmzoe  # noqa: F401
from mmzoe.apis import ImageLoadError, inference_depth, init_model

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', '_base_', 'models', 'zoedepth_tiny.py')


def randomize_(model, seed=0):
    """Re-draw weights with a larger spread so the output varies spatially."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1:
                std = 1.5 / np.sqrt(p[0].numel())
                p.copy_(torch.randn(p.shape, generator=gen) * std)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """(config path, checkpoint path, model loaded through init_model)."""
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='no checkpoint'):
        model = init_model(TINY)
    randomize_(model)
    ckpt = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(name='synthetic'))), ckpt)
    loaded = init_model(TINY, ckpt)
    return TINY, ckpt, loaded


def image(h, w, seed=0):
    """A smooth-ish test image (gradients + noise) so depth varies."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], -1) * 200
    base = base[:, ::-1] if seed % 2 else base
    base = base * rng.uniform(0.4, 1.2, 3)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(
        np.uint8)


def manual_depth(model, img, rel=False):
    """Straightforward re-implementation of the inference path."""
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(64, 64), mode='bilinear', align_corners=True)
    x = (x - 0.5) / 0.5
    with torch.no_grad():
        feats = model.extract_feat(x)
        out = feats.rel_depth if rel else model.decode_head.forward(feats)
    out = F.interpolate(out, size=img.shape[:2], mode='bilinear',
                        align_corners=True)[0, 0]
    if not rel:
        out = out.clamp(1e-3, 10.0)
    return out.numpy()


def test_init_model_loads_checkpoint(tiny):
    cfg_path, ckpt, model = tiny
    state = torch.load(ckpt, weights_only=True)['state_dict']
    own = model.state_dict()
    assert set(state) == set(own)
    assert all(torch.equal(state[k], own[k]) for k in state)
    assert not model.training
    assert model.dataset_meta == dict(name='synthetic')
    assert isinstance(model.cfg, Config)
    # a Config object works too, and cfg_options are applied
    cfg = Config.fromfile(cfg_path)
    m2 = init_model(cfg, ckpt, cfg_options={'model.test_cfg.flip': True})
    assert m2.test_cfg.flip is True
    assert cfg.model.test_cfg.flip is False  # caller's config untouched
    img = image(50, 70, seed=9)
    # flip=None follows test_cfg.flip; an explicit flip overrides it
    np.testing.assert_allclose(inference_depth(m2, img),
                               inference_depth(model, img, flip=True))
    np.testing.assert_allclose(inference_depth(m2, img, flip=False),
                               inference_depth(model, img))


@pytest.mark.parametrize('hw', [(480, 640), (333, 517)])
def test_output_at_input_resolution(tiny, hw):
    model = tiny[2]
    img = image(*hw, seed=hw[0])
    depth = inference_depth(model, img)
    assert isinstance(depth, np.ndarray)
    assert depth.shape == hw and depth.dtype == np.float32
    assert np.isfinite(depth).all()
    assert depth.min() >= 1e-3 and depth.max() <= 10.0
    assert depth.std() > 1e-3  # not a constant map
    ref = manual_depth(model, img)
    np.testing.assert_allclose(depth, ref, rtol=1e-4, atol=1e-5)


def test_path_input_equals_array_and_orientation(tiny, tmp_path):
    model = tiny[2]
    img = image(90, 120, seed=3)
    path = str(tmp_path / 'img.png')
    Image.fromarray(img).save(path)
    from_path = inference_depth(model, path)
    np.testing.assert_allclose(from_path, inference_depth(model, img),
                               atol=1e-6)
    # the prediction is not mirrored / transposed: equals the manual path,
    # and differs from the prediction of the mirrored image
    mirrored = inference_depth(model, np.ascontiguousarray(img[:, ::-1]))
    assert np.abs(mirrored[:, ::-1] - from_path).max() > 1e-4


def test_list_input_batches_and_equals_single(tiny):
    model = tiny[2]
    imgs = [image(480, 640, 1), image(333, 517, 2), image(480, 640, 3),
            image(480, 640, 4)]
    batch_sizes = []
    handle = model.backbone.register_forward_hook(
        lambda mod, inp, out: batch_sizes.append(inp[0].shape[0]))
    try:
        out = inference_depth(model, imgs, batch_size=2)
    finally:
        handle.remove()
    assert isinstance(out, list) and len(out) == 4
    assert sorted(batch_sizes) == [1, 1, 2]  # same-size images batched
    # float32 convolutions give batch-size dependent rounding (~1e-6 in the
    # neck) that the tiny random head amplifies to ~1e-4 m; a wrong image
    # order would differ by far more (checked below)
    for img, depth in zip(imgs, out):
        assert depth.shape == img.shape[:2]
        np.testing.assert_allclose(
            depth, inference_depth(model, img), rtol=2e-3, atol=2e-3)
    for i in (0, 2, 3):
        for j in (0, 2, 3):
            if i != j:
                assert np.abs(out[i] - out[j]).mean() > 0.02
    assert inference_depth(model, []) == []


def test_flip_and_relative(tiny):
    model = tiny[2]
    before = copy.deepcopy(dict(model.test_cfg))
    img = image(120, 160, seed=5)
    plain = inference_depth(model, img)
    mirrored = inference_depth(model, np.ascontiguousarray(img[:, ::-1]))
    flipped = inference_depth(model, img, flip=True)
    # resize (align_corners=True) commutes with a horizontal flip, so the
    # average at network resolution equals the average of the two outputs
    # (float32 rounding of flipped convolutions: tolerance as in the list
    # test; flipping changes the result far more than that)
    np.testing.assert_allclose(flipped, 0.5 * (plain + mirrored[:, ::-1]),
                               rtol=2e-3, atol=2e-3)
    assert np.abs(flipped - plain).mean() > 0.02
    depth, rel = inference_depth(model, img, return_relative=True)
    np.testing.assert_allclose(depth, plain, atol=1e-6)
    assert rel.shape == img.shape[:2] and rel.dtype == np.float32
    assert rel.min() >= 0 and rel.std() > 0
    np.testing.assert_allclose(rel, manual_depth(model, img, rel=True),
                               rtol=1e-4, atol=1e-4)
    depths, rels = inference_depth(model, [img, img], return_relative=True)
    assert len(depths) == len(rels) == 2
    np.testing.assert_allclose(rels[1], rel, rtol=1e-4,
                               atol=1e-5 * rel.max())
    assert dict(model.test_cfg) == before  # options restored


def test_bgr_config_gets_rgb_semantics(tiny):
    cfg_path, ckpt, model = tiny
    bgr_model = init_model(
        cfg_path, ckpt,
        cfg_options={'model.data_preprocessor.bgr_to_rgb': True})
    img = image(60, 80, seed=6)
    np.testing.assert_allclose(
        inference_depth(bgr_model, img), inference_depth(model, img),
        atol=1e-6)


def test_bad_inputs_are_named(tiny, tmp_path):
    model = tiny[2]
    with pytest.raises(ImageLoadError, match='image 1 of the list.*grayscale'):
        inference_depth(model, [image(20, 20), np.zeros((20, 20), np.uint8)])
    with pytest.raises(ImageLoadError, match='float32'):
        inference_depth(model, np.zeros((20, 20, 3), np.float32))
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(ImageLoadError, match=re.escape(missing)):
        inference_depth(model, missing)
    with pytest.raises(ValueError, match='batch_size'):
        inference_depth(model, image(20, 20), batch_size=0)


def test_bad_checkpoints_are_named(tiny, tmp_path):
    cfg_path, ckpt, model = tiny
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        init_model(cfg_path, missing)
    with pytest.raises(FileNotFoundError, match='nope_cfg.py'):
        init_model(str(tmp_path / 'nope_cfg.py'), ckpt)
    state = dict(model.state_dict())
    # training-only keys may be absent / extra
    extra = dict(state)
    extra['auxiliary_head.conv.weight'] = torch.zeros(1)
    ok = str(tmp_path / 'aux.pth')
    torch.save(dict(state_dict=extra), ok)
    init_model(cfg_path, ok)
    # a missing metric-head weight is an error naming file and key
    broken = {
        k: v
        for k, v in state.items() if k != 'decode_head.conv2.weight'
    }
    bad = str(tmp_path / 'broken.pth')
    torch.save(dict(state_dict=broken), bad)
    with pytest.raises(RuntimeError,
                       match=re.escape(bad) + '.*decode_head.conv2.weight'):
        init_model(cfg_path, bad)
    # a shape mismatch too
    wrong = dict(state)
    wrong['decode_head.conv2.weight'] = torch.zeros(1, 1, 1, 1)
    torch.save(dict(state_dict=wrong), bad)
    with pytest.raises(RuntimeError, match='shape'):
        init_model(cfg_path, bad)
    # not a checkpoint at all
    with open(bad, 'wb') as f:
        f.write(b'garbage')
    with pytest.raises(RuntimeError, match=re.escape(bad)):
        init_model(cfg_path, bad)


def test_loads_mmengine_training_checkpoint(tiny, tmp_path):
    """A Runner-style checkpoint (message hub with HistoryBuffers, numpy
    scalars, optimizer state) loads with torch's weights_only=True."""
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint
    cfg_path, _, model = tiny
    hub = MessageHub.get_instance('zoe_apis_ckpt_test')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 + i))
    hub.update_info('iter', 3)
    ckpt = dict(
        meta=dict(epoch=1, iter=3, dataset_meta=dict(classes=('a', ))),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        optimizer=torch.optim.AdamW(model.parameters()).state_dict())
    path = str(tmp_path / 'runner.pth')
    save_checkpoint(ckpt, path)
    loaded = init_model(cfg_path, path)
    assert loaded.dataset_meta == dict(classes=('a', ))
    img = image(40, 50)
    np.testing.assert_allclose(inference_depth(loaded, img),
                               inference_depth(model, img), atol=1e-6)
