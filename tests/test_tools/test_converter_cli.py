"""The command line shared by tools/model_converters/*.py
(mmzoe.models.utils.ckpt_convert.converter_main), run in-process on the tiny
Depth Anything V2 checkpoint of tests/data."""
import os.path as osp

import pytest
import torch

from mmzoe.models.utils.ckpt_convert import (convert_depth_anything_keys,
                                             converter_main,
                                             depth_anything_dropped_keys)
from zoe_testing import TESTS

TINY_DA = osp.join(TESTS, 'data', 'depth_anything_v2_tiny.pt')


def _main(argv):
    return converter_main(
        argv, convert_depth_anything_keys, 'depth_anything_to_mmzoe',
        description='test converter', src_help='checkpoint',
        dropped=depth_anything_dropped_keys)


def test_converts_reports_dropped_and_saves(tmp_path, capsys):
    src = tmp_path / 'da.pth'
    torch.save(torch.load(TINY_DA, weights_only=True)['state_dict'], src)
    dst = tmp_path / 'out' / 'core.pth'
    assert _main([str(src), str(dst)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('dropped pretrained.mask_token: ')
    ckpt = torch.load(dst, weights_only=True)
    assert out[-1] == f'Saved {len(ckpt["state_dict"])} tensors to {dst}'
    assert ckpt['meta'] == dict(source='da.pth',
                                converter='depth_anything_to_mmzoe')
    assert all(k.startswith(('backbone.', 'neck.'))
               for k in ckpt['state_dict'])


def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys):
    src = tmp_path / 'bad.pth'
    torch.save({'pretrained.cls_token': torch.zeros(1),
                'depth_head.bogus': torch.zeros(1)}, src)
    assert _main([str(src), str(tmp_path / 'x.pth')]) == 1
    err = capsys.readouterr()
    assert err.out == ''  # nothing reported as dropped before the failure
    assert err.err.startswith(f'error: {src}: Depth Anything checkpoint: '
                              '1 key(s) could not be placed')
    assert 'depth_head.bogus' in err.err
    assert not (tmp_path / 'x.pth').exists()
    missing = str(tmp_path / 'missing.pth')
    assert _main([missing, str(tmp_path / 'y.pth')]) == 1
    assert capsys.readouterr().err == (
        f'error: {missing}: Checkpoint file not found: {missing}\n')


def test_needs_src_and_dst(capsys):
    with pytest.raises(SystemExit) as e:
        _main(['only_src.pth'])
    assert e.value.code == 2
    assert 'the following arguments are required: dst' in (
        capsys.readouterr().err)
