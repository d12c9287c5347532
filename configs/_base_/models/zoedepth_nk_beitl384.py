# ZoeD_M12_NK: ZoeDepth-NK on the MiDaS v3.1 BEiT-L-384 core, the layout of
# upstream's released ZoeD_M12_NK.pt: shared core and bin embeddings, an NYU
# head (64 bins, 10 m) and a KITTI head (64 bins, 80 m), both 'softplus',
# and the patch-transformer router on the bottleneck that picks the head of
# each image (ZoeDepthNKEstimator reports it as `pred_domain`). Network
# input about 384x512 (upstream's img_size), keep_ratio as the N model
# (`infer` mode; the evaluation / training configs set keep_ratio=False).
# Weights: tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_NK.pt OUT.pth
_base_ = ['./zoedepth_beitl384.py', './zoedepth_nk_head.py']
model = dict(
    type='ZoeDepthNKEstimator', decode_head={{_base_.nk_decode_head}})
