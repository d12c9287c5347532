# NYU Depth V2 with the BTS / ZoeDepth file lists (spec §8.1): train on the
# ~24k-frame "sync" raw set, evaluate on the 654 official test images.
# Layout (as produced by BTS's scripts):
#   data/nyu_bts/sync/<scene>/rgb_XXXXX.jpg, sync_depth_XXXXX.png
#   data/nyu_bts/official_splits/test/<scene_type>/rgb_XXXXX.jpg, ...
#   data/nyu_bts/nyudepthv2_{train,test}_files_with_gt.txt
# Depth PNGs are uint16 millimetres (depth_scale=1000), 0 = missing.
# These frames have no semantic labels: disable the auxiliary seg head.
dataset_type = 'NYUEigenDataset'
data_root = 'data/nyu_bts'
train_list = 'nyudepthv2_train_files_with_gt.txt'
test_list = 'nyudepthv2_test_files_with_gt.txt'
train_batch_size = 4  # per GPU; upstream uses 16 in total
val_batch_size = 1
num_workers = 2

train_pipeline = [
    dict(type='ZoeRandomRotate', degree=1.0, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5, gamma_range=(0.9, 1.1),
         brightness_range=(0.75, 1.25), color_range=(0.9, 1.1)),
    dict(type='PackSegInputs'),
]
# ZoeLoadImage passes the dataset's image through; it is the step that
# mmseg.apis.inference_model swaps for LoadImageFromNDArray.
test_pipeline = [dict(type='ZoeLoadImage'), dict(type='PackSegInputs')]

train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_list,
        data_prefix=dict(img_path='sync', depth_map_path='sync'),
        depth_scale=1000.0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_list,
        data_prefix=dict(
            img_path='official_splits/test',
            depth_map_path='official_splits/test'),
        depth_scale=1000.0,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
test_evaluator = val_evaluator
