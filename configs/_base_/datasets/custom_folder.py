# Custom metric-depth dataset (the documented fine-tuning path), read by
# ZoeDepthFolderDataset. Layout:
#   data/my_depth/images/{train,val}/xxx.jpg     RGB
#   data/my_depth/depths/{train,val}/xxx.png     uint16, metres * depth_scale
#   data/my_depth/labels/{train,val}/xxx.png     optional uint8 ids, 255=ignore
# Files are paired by stem (or list them in a file: ann_file='train.txt' with
# lines "image depth [label]"). Set depth_scale to your PNG units per metre
# (1000 = millimetres). Without label PNGs drop seg_map_path and disable the
# auxiliary segmentation head. Adapt min/max_depth and the crop to your data.
_base_ = ['./depth_loaders.py']  # loaders, test pipeline
dataset_type = 'ZoeDepthFolderDataset'
data_root = 'data/my_depth'
depth_scale = 1000.0
train_batch_size = 4  # per GPU

train_pipeline = [
    dict(type='ZoeRandomRotate', degree=1.0, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5, brightness_range=(0.9, 1.1)),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=train_batch_size,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        depth_scale=depth_scale,
        img_suffix='.jpg',
        depth_suffix='.png',
        data_prefix=dict(
            img_path='images/train',
            depth_map_path='depths/train',
            seg_map_path='labels/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'],
        data_prefix=dict(img_path='images/val', depth_map_path='depths/val'),
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop=None)
test_evaluator = val_evaluator
