"""ZoeDepthMetric against an independent numpy implementation (docs/upstream_facts.md)."""
import csv

import numpy as np
import pytest
import torch

import mmzoe  # noqa: F401
from mmzoe.evaluation.metrics import ZoeDepthMetric

NAMES = ('a1', 'a2', 'a3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log_10',
         'silog')


def np_resize_align_corners(x, out_h, out_w):
    """Bilinear resize with align_corners=True, written from the formula."""
    h, w = x.shape

    def axis(n_out, n_in):
        pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1))
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, pos - i0

    y0, y1, wy = axis(out_h, h)
    x0, x1, wx = axis(out_w, w)
    top = x[y0][:, x0] * (1 - wx) + x[y0][:, x1] * wx
    bot = x[y1][:, x0] * (1 - wx) + x[y1][:, x1] * wx
    return top * (1 - wy)[:, None] + bot * wy[:, None]


def np_reference(pred, gt, lo=1e-3, hi=10.0, crop=True):
    pred = pred.astype(np.float64)
    gt = gt.astype(np.float64)
    if pred.shape != gt.shape:
        pred = np_resize_align_corners(pred, *gt.shape)
    pred = np.where(np.isnan(pred), lo, pred)
    pred = np.where(pred == np.inf, hi, pred)
    pred = np.clip(pred, lo, hi)
    mask = (gt > lo) & (gt < hi)
    if crop:
        window = np.zeros_like(mask)
        window[45:471, 41:601] = True
        mask &= window
    g, p = gt[mask], pred[mask]
    if g.size == 0:
        return None
    thresh = np.maximum(g / p, p / g)
    err = np.log(p) - np.log(g)
    return dict(
        a1=np.mean(thresh < 1.25), a2=np.mean(thresh < 1.5625),
        a3=np.mean(thresh < 1.953125),
        abs_rel=np.mean(np.abs(g - p) / g), sq_rel=np.mean((g - p)**2 / g),
        rmse=np.sqrt(np.mean((g - p)**2)),
        rmse_log=np.sqrt(np.mean(err**2)),
        log_10=np.mean(np.abs(np.log10(g) - np.log10(p))),
        silog=100 * np.sqrt(np.mean(err**2) - np.mean(err)**2))


def random_gt(rng, h=480, w=640, invalid=0.2):
    gt = rng.uniform(0.3, 12.0, (h, w)).astype(np.float32)
    gt[rng.random((h, w)) < invalid] = 0
    return gt


def sample(pred, gt, path='img.png'):
    return dict(pred_depth_map=dict(data=torch.from_numpy(pred)[None]),
                gt_depth_map=dict(data=torch.from_numpy(gt)[None]),
                img_path=path)


def run_metric(metric, pairs):
    metric.process(None, [sample(p, g, f'img{i}.png')
                          for i, (p, g) in enumerate(pairs)])
    return metric.evaluate(len(pairs))


def average(refs):
    refs = [r for r in refs if r is not None]
    return {k: np.mean([r[k] for r in refs]) for k in NAMES}


def assert_close(got, ref):
    for k in NAMES:
        assert got[k] == pytest.approx(ref[k], rel=1e-4, abs=1e-4), k


def test_same_size_with_nan_inf():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(3):
        gt = random_gt(rng)
        pred = (gt * rng.uniform(0.7, 1.4, gt.shape)).astype(np.float32)
        pred[gt == 0] = rng.uniform(0.1, 15, (gt == 0).sum())
        pred.flat[rng.choice(pred.size, 500)] = np.nan
        pred.flat[rng.choice(pred.size, 500)] = np.inf
        pred.flat[rng.choice(pred.size, 500)] = -np.inf
        pred.flat[rng.choice(pred.size, 500)] = 20.0
        pairs.append((pred, gt))
    got = run_metric(ZoeDepthMetric(), pairs)
    assert_close(got, average([np_reference(p, g) for p, g in pairs]))
    assert all(np.isfinite(v) for v in got.values())


def test_size_mismatch_384_to_480x640():
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(2):
        gt = random_gt(rng)
        pred = rng.uniform(0.5, 11.0, (384, 384)).astype(np.float32)
        pairs.append((pred, gt))
    got = run_metric(ZoeDepthMetric(), pairs)
    assert_close(got, average([np_reference(p, g) for p, g in pairs]))


def test_no_crop_range_selection_and_skips(tmp_path):
    rng = np.random.default_rng(2)
    gt = random_gt(rng, 48, 64)
    pred = (gt * 1.1 + 0.05).astype(np.float32)
    empty = np.zeros((48, 64), np.float32)
    metric = ZoeDepthMetric(min_depth=0.0, max_depth=10.0, crop=None,
                            metrics=['a1', 'abs_rel', 'rmse'],
                            output_dir=str(tmp_path))
    got = run_metric(metric, [(pred, gt), (pred, empty)])
    ref = np_reference(pred, gt, lo=0.0, crop=False)
    assert list(got) == ['a1', 'abs_rel', 'rmse']
    for k in got:
        assert got[k] == pytest.approx(ref[k], rel=1e-5)
    rows = list(csv.reader(open(tmp_path / 'per_image_metrics.csv')))
    assert rows[0] == ['img_path', 'n_valid', 'a1', 'abs_rel', 'rmse']
    assert rows[1][0] == 'img0.png' and int(rows[1][1]) > 0
    assert rows[2][:2] == ['img1.png', '0']
    assert float(rows[1][3]) == pytest.approx(ref['abs_rel'], abs=1e-6)


def test_crops_and_errors():
    with pytest.raises(ValueError, match='unknown metrics'):
        ZoeDepthMetric(metrics=['a1', 'delta9'])
    with pytest.raises(ValueError, match='crop'):
        ZoeDepthMetric(crop='nyu')
    gt = np.ones((100, 200), np.float32) * 2
    with pytest.raises(ValueError, match='480x640'):
        ZoeDepthMetric().prepare(torch.from_numpy(gt), torch.from_numpy(gt))
    m = ZoeDepthMetric(crop='garg', max_depth=80)
    _, valid = m.prepare(torch.from_numpy(gt), torch.from_numpy(gt))
    rows = np.where(valid.numpy().any(1))[0]
    cols = np.where(valid.numpy().any(0))[0]
    assert (rows[0], rows[-1] + 1) == (int(0.40810811 * 100),
                                       int(0.99189189 * 100))
    assert (cols[0], cols[-1] + 1) == (int(0.03594771 * 200),
                                       int(0.96405229 * 200))
    m = ZoeDepthMetric(crop='eigen', rescale_eigen_crop=True)
    _, valid = m.prepare(torch.from_numpy(gt), torch.from_numpy(gt))
    assert valid.sum() == (int(471 / 4.8) - int(45 / 4.8)) * (
        int(601 / 3.2) - int(41 / 3.2))


def test_median_scaling():
    rng = np.random.default_rng(3)
    gt = random_gt(rng)
    pred = (gt * 0.5).astype(np.float32)  # wrong scale, right shape
    got = run_metric(ZoeDepthMetric(median_scaling=True), [(pred, gt)])
    assert got['abs_rel'] < 1e-5 and got['a1'] == 1.0
    got = run_metric(ZoeDepthMetric(), [(pred, gt)])
    assert got['abs_rel'] > 0.4
