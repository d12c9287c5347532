# iBims-1 zero-shot evaluation (docs/upstream_facts.md): ibims1_core_raw with
# imagelist.txt; depth = png * 50 / 65535 m, pixels masked by mask_invalid *
# mask_transp become invalid; metric range 0 < gt < 10 m with the same Eigen
# crop [45:471, 41:601] as NYU (ZoeDepth's "ibims" config). Batch size 1.
_base_ = ['./depth_test_loader.py']  # loader, test pipeline
dataset_type = 'IBims1Dataset'
data_root = 'data/ibims1/ibims1_core_raw'
test_batch_size = 1

test_dataloader = dict(
    batch_size=test_batch_size,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='imagelist.txt',
        layout='raw'))
val_dataloader = test_dataloader

test_evaluator = dict(
    type='ZoeDepthMetric', min_depth=0.0, max_depth=10.0, crop='eigen')
val_evaluator = test_evaluator
