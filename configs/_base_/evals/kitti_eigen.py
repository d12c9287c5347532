# Evaluation on the KITTI Eigen test split (../datasets/kitti_eigen.py: KB
# crop 352x1216, 1e-3 < gt < 80 m, Garg crop), evaluation only.
_base_ = ['../datasets/kitti_eigen.py', './eval_loops.py']
# Evaluation only: drop the training set that the dataset base defines
# (MMEngine's Runner wants train_dataloader, train_cfg and optim_wrapper all
# set or all None; mmseg's tools/test.py builds the same Runner).
train_dataloader = None
train_cfg = None
optim_wrapper = None
