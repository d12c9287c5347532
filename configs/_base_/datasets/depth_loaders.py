# Training and validation loaders shared by the training dataset bases
# (nyu_eigen, nyu_labeled, kitti_eigen, custom_folder): ./depth_test_loader.py
# for validation at batch size 1, a shuffled training loader, and ZoeDepth's
# NYU augmentation as the default training pipeline. A dataset base
# inheriting this sets
#     train_dataloader = dict(batch_size=..., dataset=dict(type=..., ...))
# and the validation set as ./depth_test_loader.py says.
_base_ = ['./depth_test_loader.py']
val_batch_size = 1

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

train_dataloader = dict(
    num_workers=_base_.num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=val_batch_size)
test_dataloader = val_dataloader
