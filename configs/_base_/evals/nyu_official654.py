# Evaluation on the 654 official NYU Depth V2 test images (= the Eigen test
# set) of nyu_depth_v2_labeled.mat with ZoeDepth's protocol
# (docs/upstream_facts.md): valid 1e-3 < gt < 10 m, Eigen crop [45:471,
# 41:601], per-image metrics averaged over images. Ground truth = rawDepths
# (projected Kinect depth, 0 = missing).
# bts_export=True (default here): every image and depth map is exactly what
# the BTS export (official_splits/test, the files published NYU numbers were
# computed on) reads back: RGB outside [7:474, 7:632] black (instead of NYU's
# white undistortion border), a JPEG round trip with OpenCV's default
# quality 95, depth truncated to whole millimetres. Set
# test_dataloader.dataset.bts_export=False for the .mat arrays as they are.
# tools/dataset_converters/nyu_labeled_to_bts.py writes the same files.
_base_ = ['../datasets/nyu_labeled.py', './eval_loops.py']
test_dataloader = dict(
    dataset=dict(
        split='official',
        subset='test',
        num_val=None,
        depth_key='rawDepths',
        with_labels=False,
        bts_export=True))
val_dataloader = test_dataloader
# the metric: the dataset base's (ZoeDepth's NYU protocol)
# Evaluation only: drop the training set that the dataset base defines
# (MMEngine's Runner wants train_dataloader, train_cfg and optim_wrapper all
# set or all None; mmseg's tools/test.py builds the same Runner).
train_dataloader = None
train_cfg = None
optim_wrapper = None
