# NYU Depth V2 labeled set (nyu_depth_v2_labeled.mat, 1449 images) with the
# report's protocol: seeded random split of all 1449 images, 1158 train /
# 291 val (num_val=291). The val images share scenes with the train images;
# for the standard protocol use split='official' (795 train / 654 test, the
# 654 test images are the Eigen NYU test set; published ZoeDepth numbers use
# depth_key='rawDepths' as test GT, and bts_export=True for the images as
# BTS's exported files: see the NYU-654 evaluation config) or
# configs/_base_/datasets/nyu_eigen.py.
# For a small synthetic file (N < 1449) set num_val=None (round(0.2 * N)).
_base_ = ['./depth_loaders.py']  # loaders, NYU augmentation, test pipeline
dataset_type = 'NYUv2LabeledDataset'
data_root = 'data/nyu'
mat_file = 'nyu_depth_v2_labeled.mat'
split_seed = 43
num_val = 291
train_batch_size = 3  # per GPU (report: 3 on one GPU)

train_dataloader = dict(
    batch_size=train_batch_size,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=mat_file,
        split='random',
        subset='train',
        seed=split_seed,
        num_val=num_val,
        depth_key='depths',
        with_labels=True))
# the other side of the same split
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'], subset='val', with_labels=False))
test_dataloader = val_dataloader

# ZoeDepth NYU protocol (docs/upstream_facts.md): 1e-3 < gt < 10 m, Eigen crop
# [45:471, 41:601], prediction resized bilinearly to 480x640 and clipped.
val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
test_evaluator = val_evaluator
