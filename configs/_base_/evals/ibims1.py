# Zero-shot iBims-1 evaluation (../datasets/ibims1.py: 100 images, 0 < gt <
# 10 m, Eigen crop). An evaluation config composes a model with this:
#     _base_ = ['../_base_/models/zoedepth_swin2b.py',
#               '../_base_/evals/ibims1.py', '../_base_/default_runtime.py']
_base_ = ['../datasets/ibims1.py', './eval_loops.py']
