"""tools/analysis_tools/ablation.py: paired statistics and a tiny run."""
import importlib.util
import json
import math
import os
import os.path as osp
import sys

import numpy as np
import pytest
from scipy import stats

from zoe_testing import REPO, ForkedSubprocess, run, tool_env

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'ablation.py')
CONFIG = osp.join(REPO, 'tests', 'configs', 'zoe_tiny_nyu.py')


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ablation = _load('ablation_tool', TOOL)

# d = b - a = [0.5, 0.1, 0.6, 0.2, 0.9]
A = [1.0, 2.0, 3.0, 4.0, 5.0]
B = [1.5, 2.1, 3.6, 4.2, 5.9]


def test_paired_stats_hand_checked_and_scipy():
    s = ablation.paired_stats(A, B)
    # by hand: mean 0.46, sum of squared deviations 0.412, sd sqrt(0.103),
    # t_{0.975, 4} = 2.776445 -> half width 2.776445 * 0.320936 / sqrt(5)
    assert s['n'] == 5
    assert s['diff_mean'] == pytest.approx(0.46)
    assert s['diff_std'] == pytest.approx(math.sqrt(0.103))
    assert s['ci_low'] == pytest.approx(0.061507, abs=1e-5)
    assert s['ci_high'] == pytest.approx(0.858493, abs=1e-5)
    assert s['t_stat'] == pytest.approx(3.20497, abs=1e-4)
    # all five differences positive: exact two-sided p = 2 / 2**5
    assert s['wilcoxon_stat'] == 0.0
    assert s['wilcoxon_p'] == pytest.approx(0.0625)
    # and the same numbers straight from scipy
    t = stats.ttest_rel(B, A)
    w = stats.wilcoxon(B, A)
    assert s['t_stat'] == pytest.approx(t.statistic)
    assert s['t_p'] == pytest.approx(t.pvalue)
    assert s['wilcoxon_p'] == pytest.approx(w.pvalue)
    ci = t.confidence_interval(0.95)
    assert (s['ci_low'], s['ci_high']) == pytest.approx((ci.low, ci.high))
    assert s['mean_a'] == pytest.approx(3.0)
    assert s['std_a'] == pytest.approx(np.std(A, ddof=1))
    assert s['mean_b'] == pytest.approx(np.mean(B))
    assert s['std_b'] == pytest.approx(np.std(B, ddof=1))


def test_paired_stats_direction_and_level():
    s = ablation.paired_stats(B, A, confidence=0.9)
    assert s['diff_mean'] == pytest.approx(-0.46)
    ci = stats.ttest_rel(A, B).confidence_interval(0.9)
    assert (s['ci_low'], s['ci_high']) == pytest.approx((ci.low, ci.high))
    assert s['ci_high'] - s['ci_low'] < 0.858493 - 0.061507


def test_paired_stats_undefined_tests_and_bad_input():
    same = ablation.paired_stats([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same['diff_mean'] == 0 and same['ci_low'] == same['ci_high'] == 0
    assert same['t_p'] is None and same['wilcoxon_p'] is None
    shift = ablation.paired_stats([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert shift['t_p'] is None  # zero spread: no t statistic
    assert shift['wilcoxon_p'] == pytest.approx(0.25)
    with pytest.raises(ValueError, match='>= 2 seeds'):
        ablation.paired_stats([1.0], [2.0])
    with pytest.raises(ValueError, match='equal-length'):
        ablation.paired_stats([1.0, 2.0], [2.0])
    with pytest.raises(ValueError, match='finite'):
        ablation.paired_stats([1.0, float('nan')], [2.0, 3.0])


def test_summary_table_pairs_seeds():
    results = {
        'a': {s: dict(a1=v, rmse=1 - v) for s, v in enumerate(A)},
        'b': {s: dict(a1=v, rmse=1 - v) for s, v in enumerate(B)},
    }
    results['b'][7] = dict(a1=9.0, rmse=9.0)  # unpaired seed: left out
    summary = ablation.summarize(results, ['a', 'b'])
    assert summary['seeds'] == [0, 1, 2, 3, 4]
    assert summary['stats']['a1']['diff_mean'] == pytest.approx(0.46)
    assert summary['stats']['rmse']['diff_mean'] == pytest.approx(-0.46)
    table = ablation.format_markdown(summary)
    assert '| a1 (higher is better) | 3.0000 ± 1.5811 |' in table
    assert '+0.4600 | [+0.0615, +0.8585]' in table
    with pytest.raises(ablation.AblationError, match='at least 2'):
        ablation.summarize({'a': {0: dict(a1=1.0)}, 'b': {0: dict(a1=1.0)}},
                           ['a', 'b'])


def _tiny_nyu(root: str) -> str:
    make = _load('make_tiny_nyu',
                 osp.join(REPO, 'tests', 'configs', 'make_tiny_nyu.py'))
    make.make_tiny_nyu(osp.join(root, 'tiny_nyu.mat'), num=4, height=48,
                       width=64)
    return root


def _env() -> dict:
    env = tool_env()
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def _run(args, timeout=900):
    """The tool as a user runs it (a process of its own)."""
    return run([sys.executable, TOOL] + args, env=_env(), timeout=timeout)


def test_ablation_end_to_end_two_seeds(tmp_path, monkeypatch, capsys):
    data = _tiny_nyu(str(tmp_path / 'data'))
    work = tmp_path / 'abl'
    common = [
        CONFIG, CONFIG, '--names', 'lr1e-3', 'lr3e-3', '--seeds', '2',
        '--iters', '2', '--checkpoint-interval', '1', '--jobs', '2',
        '--work-dir',
        str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'env_cfg.dist_cfg.backend=gloo', '--cfg-options-b',
        'optim_wrapper.optimizer.lr=3e-3'
    ]
    # nothing finished yet: the table is refused in one line, exit 2
    res = _run(common + ['--summarize-only'])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and '0 finished seed pair(s)' in lines[0]

    # an interrupted run: variant A, seed 0 stopped after 1 of 2 iterations
    args = ablation.parse_args(common)
    cfg = ablation.build_variant_cfg(CONFIG, args.cfg_options, None, 2, 1)
    cfg_path = str(work / 'lr1e-3' / 'config.py')
    ablation.write_variant_cfg(cfg, cfg_path)
    run_dir = work / 'lr1e-3' / 'seed_0'
    res = run([
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), cfg_path, '--work-dir',
        str(run_dir), '--cfg-options', 'randomness.seed=0',
        'train_cfg.max_iters=1'
    ], env=_env(), timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run_dir / 'iter_1.pth').is_file()

    forked = ForkedSubprocess()
    monkeypatch.setattr(ablation, 'subprocess', forked)
    capsys.readouterr()
    assert ablation.main(common) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    # 2 variants x 2 seeds, each trained (or resumed) then tested
    scripts = sorted(osp.basename(c[1]) for c in forked.commands)
    assert scripts == ['test.py'] * 4 + ['train.py'] * 4, forked.commands
    # the interrupted run continued from its checkpoint
    log = (run_dir / 'train.log').read_text()
    resumed = log.split('Auto resumed from the latest checkpoint')[1]
    assert 'iter_1.pth' in resumed.splitlines()[0]
    # the per-variant option reached variant B only
    cfg_a = (work / 'lr1e-3' / 'config.py').read_text()
    assert 'lr=0.001' in cfg_a and 'max_iters=2' in cfg_a
    assert 'lr=0.003' in (work / 'lr3e-3' / 'config.py').read_text()
    per_run = {}
    for name in ('lr1e-3', 'lr3e-3'):
        for seed in (0, 1):
            run_dir = work / name / f'seed_{seed}'
            assert (run_dir / 'iter_2.pth').is_file()
            with open(run_dir / 'metrics.json') as f:
                per_run[name, seed] = json.load(f)['metrics']
    # seeds change the result
    assert per_run['lr1e-3', 0] != per_run['lr1e-3', 1]
    with open(work / 'ablation.json') as f:
        summary = json.load(f)
    assert summary['seeds'] == [0, 1]
    for key in ('a1', 'abs_rel', 'rmse'):
        va = [per_run['lr1e-3', s][key] for s in (0, 1)]
        vb = [per_run['lr3e-3', s][key] for s in (0, 1)]
        assert summary['values'][key] == {'lr1e-3': va, 'lr3e-3': vb}
        ref = ablation.paired_stats(va, vb)
        for k, v in ref.items():
            assert summary['stats'][key][k] == pytest.approx(v)
    md = (work / 'ablation.md').read_text()
    assert md in out and '| abs_rel (lower is better) |' in md
    png = (work / 'ablation.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'

    # resumable: finished runs are skipped (no training, same table)
    os.remove(work / 'ablation.md')
    assert ablation.main(common) == 0
    out = capsys.readouterr().out
    assert out.count('finished, skipped') == 4
    assert 'tools/train.py' not in out and len(forked.commands) == 8
    assert (work / 'ablation.md').read_text() == md

    # other options in the same work dir are refused in one line (the CLI)
    res = _run(common[:-1] + ['optim_wrapper.optimizer.lr=5e-3'])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and 'holds runs of another config' in lines[0]
