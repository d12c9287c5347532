# NYU Depth V2 with the BTS / ZoeDepth file lists (docs/upstream_facts.md):
# train on the ~24k-frame "sync" raw set, evaluate on the 654 official test images.
# Layout (as produced by BTS's scripts):
#   data/nyu_bts/sync/<scene>/rgb_XXXXX.jpg, sync_depth_XXXXX.png
#   data/nyu_bts/official_splits/test/<scene_type>/rgb_XXXXX.jpg, ...
#   data/nyu_bts/nyudepthv2_{train,test}_files_with_gt.txt
# Depth PNGs are uint16 millimetres (depth_scale=1000), 0 = missing.
# These frames have no semantic labels: disable the auxiliary seg head.
_base_ = ['./depth_loaders.py']  # loaders, NYU augmentation, test pipeline
dataset_type = 'NYUEigenDataset'
data_root = 'data/nyu_bts'
train_list = 'nyudepthv2_train_files_with_gt.txt'
test_list = 'nyudepthv2_test_files_with_gt.txt'
train_batch_size = 4  # per GPU; upstream uses 16 in total

train_dataloader = dict(
    batch_size=train_batch_size,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_list,
        data_prefix=dict(img_path='sync', depth_map_path='sync'),
        depth_scale=1000.0))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'],
        ann_file=test_list,
        data_prefix=dict(
            img_path='official_splits/test',
            depth_map_path='official_splits/test')))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
test_evaluator = val_evaluator
