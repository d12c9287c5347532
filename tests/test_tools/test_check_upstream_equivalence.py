"""tools/analysis_tools/check_upstream_equivalence.py on tiny models: the
one checker for upstream ZoeDepth dumps (N/K and routed NK; upstream weights
or an mmzoe checkpoint). The dumps are made here from the model itself at
the network resolution (what the harness dumps for upstream), so the checker
must report agreement; a perturbed dump or another domain must fail."""
import os.path as osp

import pytest
import torch

from mmzoe.apis import init_model
from zoe_testing import REPO, load_module

TOOL = load_module('check_upstream_equivalence', osp.join(
    REPO, 'tools', 'analysis_tools', 'check_upstream_equivalence.py'))
MODELS_DIR = osp.join(REPO, 'configs', '_base_', 'models')


def _dump(model, path, h, w, seed):
    """A harness-style dump: input in [0, 1] on the uint8 grid, metric /
    relative depth (and domain logits) at the network resolution."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (1, 3, h, w), generator=g).float() / 255
    net_in = model.data_preprocessor.prepare_batch(
        (x[0] * 255).round().to(torch.uint8)[None])
    with torch.no_grad():
        out = model.forward_depths(net_in, with_rel=True)
    blob = dict(input=x, metric_depth=out['depth'],
                rel_depth=out['rel_depth'])
    if 'domain_logits' in out:
        blob['domain_logits'] = out['domain_logits']
    torch.save(blob, path)
    return blob


@pytest.mark.parametrize('cfg_name', ['zoedepth_tiny.py',
                                      'zoedepth_nk_tiny.py'])
def test_checker_agrees_with_the_models_own_dump(tmp_path, cfg_name,
                                                 capsys):
    cfg = osp.join(MODELS_DIR, cfg_name)
    torch.manual_seed(0)
    model = init_model(cfg)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    model = init_model(cfg, ckpt)
    good = str(tmp_path / 'good.pt')
    blob = _dump(model, good, 40, 56, seed=1)
    assert TOOL.main([cfg, ckpt, good, '--json',
                      str(tmp_path / 'r.json')]) == 0
    out = capsys.readouterr().out
    assert 'OK' in out and 'an mmzoe checkpoint was given' in out
    if 'domain_logits' in blob:
        assert 'domain mmzoe' in out
        # upstream picking the other domain: a failure
        flipped = dict(blob, domain_logits=blob['domain_logits'].flip(-1))
        torch.save(flipped, tmp_path / 'other.pt')
        assert TOOL.main([cfg, ckpt, str(tmp_path / 'other.pt')]) == 1
        return
    # depth 1 % off: a failure
    bad = dict(blob, metric_depth=blob['metric_depth'] * 1.01)
    torch.save(bad, tmp_path / 'bad.pt')
    assert TOOL.main([cfg, ckpt, str(tmp_path / 'bad.pt')]) == 1
    assert 'FAILED' in capsys.readouterr().out
    # an unreadable dump: one line, exit 2
    (tmp_path / 'junk.pt').write_text('not a dump')
    assert TOOL.main([cfg, ckpt, str(tmp_path / 'junk.pt')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'junk.pt: cannot read the dump' in err[0]
