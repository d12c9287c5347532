# ZoeD_M12_NK: upstream ZoeDepth-NK's recipe on the MiDaS v3.1 BEiT-L-384
# core (the released ZoeD_M12_NK.pt). Mixed training as upstream's `mix`
# dataset: NYU Depth V2 (BTS sync list) and KITTI (Eigen train list, KB
# crop) in one ConcatDataset; ZoeRoundRobinBatchSampler yields batches that
# each hold one domain, NYU and KITTI in turn (the shorter list repeats until
# the longer one is done, as upstream's repetitive round robin). Each sample
# carries its `domain` (ZoeSetDomain); the loss is SILog on the head the
# router picked, over the sample's own range (NYU 1e-3..10 m, KITTI
# 1e-3..80 m), plus 100 x cross-entropy of the router logits against the
# domain (upstream w_domain = 100). Input squashed to 384x512 (upstream's
# `train` mode). AdamW lr 2.512e-4, wd 0.01, OneCycle over 5 epochs, the
# encoder, its position tables and the DPT decoder at lr / 10 (upstream's
# encoder / pos_enc / midas lr factors), batch 16. Validation on the 654
# NYU test images (upstream validates NK on NYU).
# Core weights: MiDaS dpt_beit_large_384.pt converted with
#     python tools/model_converters/midas_to_mmzoe.py \
#         dpt_beit_large_384.pt checkpoints/midas_dpt_beit_large_384-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_nk_beitl384.py',
    '../_base_/schedules/schedule_onecycle_5e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(keep_ratio=False),
    core_checkpoint='checkpoints/midas_dpt_beit_large_384-mmzoe.pth')
optim_wrapper = dict(
    optimizer=dict(lr=2.512e-4),
    paramwise_cfg=dict(
        encoder_lr_factor=10, pos_enc_lr_factor=10, decoder_lr_factor=10,
        encoder_prefix=('backbone.', 'neck.reassemble.')))

nk_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                'reduce_zero_label', 'focal', 'domain')
nyu_train_pipeline = [
    dict(type='ZoeSetDomain', domain='nyu'),
    dict(type='ZoeRandomRotate', degree=1.0, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5, gamma_range=(0.9, 1.1),
         brightness_range=(0.75, 1.25), color_range=(0.9, 1.1)),
    dict(type='PackSegInputs', meta_keys=nk_meta_keys),
]
kitti_train_pipeline = [
    dict(type='ZoeSetDomain', domain='kitti'),
    dict(type='ZoeKBCrop', height=352, width=1216),
    dict(type='ZoeRandomRotate', degree=1.0, prob=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ZoeColorAug', prob=0.5, gamma_range=(0.9, 1.1),
         brightness_range=(0.9, 1.1), color_range=(0.9, 1.1)),
    dict(type='PackSegInputs', meta_keys=nk_meta_keys),
]
nyu_test_pipeline = [
    dict(type='ZoeLoadImage'),
    dict(type='ZoeSetDomain', domain='nyu'),
    dict(type='PackSegInputs', meta_keys=nk_meta_keys),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='ZoeRoundRobinBatchSampler'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type='NYUEigenDataset', data_root='data/nyu_bts',
                 ann_file='nyudepthv2_train_files_with_gt.txt',
                 data_prefix=dict(img_path='sync', depth_map_path='sync'),
                 depth_scale=1000.0, pipeline=nyu_train_pipeline),
            dict(type='ZoeKITTIDataset', data_root='data/kitti',
                 ann_file='kitti_eigen_train_files_with_gt.txt',
                 data_prefix=dict(img_path='raw', depth_map_path='gts'),
                 depth_scale=256.0, pipeline=kitti_train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NYUEigenDataset', data_root='data/nyu_bts',
        ann_file='nyudepthv2_test_files_with_gt.txt',
        data_prefix=dict(img_path='official_splits/test',
                         depth_map_path='official_splits/test'),
        depth_scale=1000.0, test_mode=True, pipeline=nyu_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='ZoeDepthMetric', min_depth=1e-3, max_depth=10.0, crop='eigen')
test_evaluator = val_evaluator
