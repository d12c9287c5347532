# KITTI, Eigen split with the BTS / ZoeDepth file lists (23,158 training
# frames; 697 test lines, 45 of them without ground truth, which the metric
# skips). Layout (upstream's `kitti/raw` + `kitti/gts`):
#   data/kitti/raw/<date>/<date>_drive_XXXX_sync/image_02/data/*.png
#       (KITTI raw, synced+rectified)
#   data/kitti/gts/<date>_drive_XXXX_sync/proj_depth/groundtruth/image_02/*.png
#       (KITTI depth benchmark annotations: uint16, metres * 256, 0 = none)
#   data/kitti/kitti_eigen_{train,test}_files_with_gt.txt
# Every frame is KB-cropped to 352x1216 (bottom rows, central columns) in
# training and evaluation, as upstream. Evaluation: 1e-3 < gt < 80 m, Garg
# crop (upstream's KITTI setting; crop='kitti_eigen' for the Eigen window).
_base_ = ['./depth_loaders.py']  # loaders
dataset_type = 'ZoeKITTIDataset'
data_root = 'data/kitti'
train_list = 'kitti_eigen_train_files_with_gt.txt'
test_list = 'kitti_eigen_test_files_with_gt.txt'
train_batch_size = 4  # per GPU; upstream uses 16 in total
kitti_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                   'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                   'reduce_zero_label', 'focal', 'domain', 'kb_crop_box')

train_pipeline = [
    dict(type='ZoeKBCrop', height=352, width=1216),
    dict(type='ZoeRandomRotate', degree=1.0, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5, gamma_range=(0.9, 1.1),
         brightness_range=(0.9, 1.1), color_range=(0.9, 1.1)),
    dict(type='PackSegInputs', meta_keys=kitti_meta_keys),
]
test_pipeline = [
    dict(type='ZoeLoadImage'),
    dict(type='ZoeKBCrop', height=352, width=1216),
    dict(type='PackSegInputs', meta_keys=kitti_meta_keys),
]

train_dataloader = dict(
    batch_size=train_batch_size,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_list,
        data_prefix=dict(img_path='raw', depth_map_path='gts'),
        depth_scale=256.0,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'], ann_file=test_list,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=80.0, crop='garg')
test_evaluator = val_evaluator
