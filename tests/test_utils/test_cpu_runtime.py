"""CPU runtime switches (glibc malloc policy, flushing denormals).

Each case runs in a process of its own (``zoe_testing.run_code``: forked
from the session's warm interpreter, which has imported torch but started
no intra-op threads): both settings are process-wide and flushing denormals
must be set before torch starts its threads.
"""
import json
import os.path as osp
import sys
import textwrap

import pytest

from mmzoe.utils.cpu_runtime import set_malloc_policy

from zoe_testing import REPO as ROOT
from zoe_testing import run_code

TINY_CFG = osp.join(ROOT, 'configs/_base_/models/zoedepth_tiny.py')

_DEPTH = '''
import torch
from mmengine.config import Config
from mmzoe.registry import MODELS
from mmzoe.utils import register_all_modules
register_all_modules()
torch.manual_seed(0)
model = MODELS.build(Config.fromfile({cfg!r}).model).eval()
with torch.no_grad():
    for p in model.parameters():
        p.add_(0.02 * torch.randn_like(p))
gen = torch.Generator().manual_seed(1)
x = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
with torch.no_grad():
    depth = model.forward_depths(x, flip=False)['depth']
torch.save(depth, {out!r})
'''


def _run(code: str) -> dict:
    proc = run_code(textwrap.dedent(code), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    res = json.loads(lines[-1]) if lines else {}
    res['stderr'] = proc.stderr
    return res


def test_unknown_malloc_policy_is_refused():
    with pytest.raises(ValueError, match='reuse'):
        set_malloc_policy('fastest')


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc mallopt')
def test_switches_apply_on_all_threads_and_keep_outputs(tmp_path):
    ref, fast = str(tmp_path / 'ref.pt'), str(tmp_path / 'fast.pt')
    _run('import torch\ntorch.set_num_threads(2)\n' +
         _DEPTH.format(cfg=TINY_CFG, out=ref))
    res = _run(textwrap.dedent('''
        import json
        from mmzoe.utils import configure_cpu_runtime
        applied = configure_cpu_runtime('reuse', flush_denormal=True)
        import torch
        torch.set_num_threads(2)
        tiny = torch.full((1 << 17, ), 1e-30) * 1e-10  # two threads
        applied['denormals_left'] = int((tiny != 0).sum())
    ''') + _DEPTH.format(cfg=TINY_CFG, out=fast) + 'print(json.dumps(applied))')
    assert res['malloc'] == 'reuse'
    assert res['flush_denormal'] is True
    assert res['denormals_left'] == 0
    import torch
    d_ref, d_fast = torch.load(ref), torch.load(fast)
    assert torch.allclose(d_fast, d_ref, rtol=1e-6, atol=0)


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc mallopt')
def test_release_policy_and_late_flush_warning():
    res = _run('''
        import json, warnings
        import torch
        torch.set_num_threads(2)
        torch.ones(1 << 20).mul_(2)  # starts the intra-op threads
        from mmzoe.utils import configure_cpu_runtime
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            applied = configure_cpu_runtime('release', flush_denormal=True)
        applied['warnings'] = [str(w.message) for w in caught]
        print(json.dumps(applied))
    ''')
    assert res['malloc'] == 'release'
    assert res['flush_denormal'] is False
    assert any('calling thread only' in w for w in res['warnings'])
