"""tools/publish_model.py: strips training state and the auxiliary head."""
import argparse
import copy
import hashlib
import importlib.util
import os
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.logging import MessageHub

import mmzoe  # noqa: F401

from zoe_testing import REPO
from zoe_testing import build_segdistill as _build
from zoe_testing import segdistill_batch as _batch



def _tool():
    spec = importlib.util.spec_from_file_location(
        'mmzoe_publish_model', osp.join(REPO, 'tools', 'publish_model.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _training_checkpoint(model, path):
    """What MMEngine's CheckpointHook writes (meta, state, optimizer,
    schedulers, message hub with HistoryBuffers / numpy scalars)."""
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(_batch()), True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    optim.step()
    hub = MessageHub.get_instance('segdistill_publish_test')
    hub.update_scalar('train/loss', loss.item())
    hub.update_info('iter', 1)
    ckpt = dict(
        meta=dict(
            epoch=0,
            iter=1,
            cfg='model = dict(...)  # long config text',
            seed=0,
            experiment_name='x',
            mmengine_version='0.10.7',
            dataset_meta=dict(classes=['a', 'b'])),
        state_dict=model.state_dict(),
        optimizer=optim.state_dict(),
        param_schedulers=[dict(last_epoch=1, base_lrs=[1e-3])],
        message_hub=hub.state_dict())
    torch.save(ckpt, path)


def test_publish_strips_and_loads_for_inference(tmp_path, monkeypatch,
                                                capsys):
    tool = _tool()
    model = _build()
    src = str(tmp_path / 'iter_1.pth')
    _training_checkpoint(model, src)

    # CLI: default strips the auxiliary head
    monkeypatch.setattr(sys, 'argv', [
        'publish_model.py', src, str(tmp_path / 'out' / 'zoe_tiny.pth')
    ])
    tool.main()
    assert 'stripped' in capsys.readouterr().out
    files = os.listdir(tmp_path / 'out')
    assert len(files) == 1
    match = re.fullmatch(r'zoe_tiny-([0-9a-f]{8})\.pth', files[0])
    assert match, files
    published = str(tmp_path / 'out' / files[0])
    with open(published, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == match.group(1)

    ckpt = torch.load(published, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert not any(k.startswith('auxiliary_head.') for k in ckpt['state_dict'])
    assert set(ckpt['meta']) <= {
        'epoch', 'iter', 'dataset_meta', 'mmengine_version', 'mmseg_version',
        'mmzoe_version', 'auxiliary_head_stripped'
    }
    assert ckpt['meta']['auxiliary_head_stripped'] is True
    assert ckpt['meta']['dataset_meta'] == dict(classes=['a', 'b'])
    model_keys = {
        k for k in model.state_dict() if not k.startswith('auxiliary_head.')
    }
    assert set(ckpt['state_dict']) == model_keys

    # loads strictly into a model without the auxiliary head and predicts
    # like the trained model
    plain = _build(with_aux=False, seed=7)
    plain.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    plain.eval()
    batch = _batch(seed=8)
    with torch.no_grad():
        want = model.test_step(copy.deepcopy(batch))
        got = plain.test_step(copy.deepcopy(batch))
    for a, b in zip(want, got):
        assert torch.equal(a.pred_depth_map.data, b.pred_depth_map.data)

    # into a model with the head: only auxiliary_head.* keys are missing
    with_aux = _build(seed=9)
    result = with_aux.load_state_dict(ckpt['state_dict'], strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(
        k.startswith('auxiliary_head.') for k in result.missing_keys)

    # --keep-aux keeps the head: strict load into the aux model
    kept = tool.publish_checkpoint(
        src, str(tmp_path / 'keep.pth'), keep_aux=True)
    ckpt_k = torch.load(kept, map_location='cpu', weights_only=True)
    assert ckpt_k['meta']['auxiliary_head_stripped'] is False
    with_aux.load_state_dict(ckpt_k['state_dict'], strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(with_aux.state_dict()[k], v), k


def test_publish_errors(tmp_path):
    tool = _tool()
    with pytest.raises(FileNotFoundError, match='not found'):
        tool.publish_checkpoint(str(tmp_path / 'nope.pth'),
                                str(tmp_path / 'o.pth'))
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=dict(a=1)), bad)
    with pytest.raises(ValueError, match='state_dict'):
        tool.publish_checkpoint(bad, str(tmp_path / 'o.pth'))

    # a type that is not allow-listed: refused unless --unsafe-load
    unsafe = str(tmp_path / 'unsafe.pth')
    torch.save(
        dict(state_dict=dict(w=torch.ones(1)), meta=argparse.Namespace(a=1)),
        unsafe)
    with pytest.raises(RuntimeError, match='--unsafe-load'):
        tool.publish_checkpoint(unsafe, str(tmp_path / 'o.pth'))
