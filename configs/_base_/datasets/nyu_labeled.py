# NYU Depth V2 labeled set (nyu_depth_v2_labeled.mat, 1449 images) with the
# report's protocol: seeded random split of all 1449 images, 1158 train /
# 291 val (num_val=291). The val images share scenes with the train images;
# for the standard protocol use split='official' (795 train / 654 test, the
# 654 test images are the Eigen NYU test set; published ZoeDepth numbers use
# depth_key='rawDepths' as test GT, and bts_export=True for the images as
# BTS's exported files: see the NYU-654 evaluation config) or
# configs/_base_/datasets/nyu_eigen.py.
# For a small synthetic file (N < 1449) set num_val=None (round(0.2 * N)).
dataset_type = 'NYUv2LabeledDataset'
data_root = 'data/nyu'
mat_file = 'nyu_depth_v2_labeled.mat'
split_seed = 43
num_val = 291
train_batch_size = 3  # per GPU (report: 3 on one GPU)
val_batch_size = 1
num_workers = 2

train_pipeline = [
    # ZoeDepth NYU augmentation: rotation +-1 deg (image bilinear, depth
    # nearest filled with 0, labels nearest filled with 255), horizontal
    # flip p=0.5, colour augmentation p=0.5. No GT resize: the data
    # preprocessor resizes the image to the network size.
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
        ann_file=mat_file,
        split='random',
        subset='train',
        seed=split_seed,
        num_val=num_val,
        depth_key='depths',
        with_labels=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=mat_file,
        split='random',
        subset='val',
        seed=split_seed,
        num_val=num_val,
        depth_key='depths',
        with_labels=False,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# ZoeDepth NYU protocol (spec §9): 1e-3 < gt < 10 m, Eigen crop
# [45:471, 41:601], prediction resized bilinearly to 480x640 and clipped.
val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
test_evaluator = val_evaluator
