# Depth Anything V2 ViT-L/14 relative depth through mmzoe's user path.
# The core (encoder + DPT head) is the released relative model; the input
# transform is upstream's infer_image(img, 518): keep the aspect ratio, the
# shorter side at least 518, both sides rounded to multiples of 14, bicubic
# (OpenCV INTER_CUBIC = torch bicubic, align_corners=False), ImageNet
# mean/std. The metric head is untrained here: use the relative output,
#     model = init_model('configs/depth_anything/zoedepth_da2-vitl_relative-518.py')
#     model.load_core_checkpoint('checkpoints/da2_vitl_core-mmzoe.pth')
#     _, rel = inference_depth(model, 'img.jpg', return_relative=True)
# after python tools/model_converters/depth_anything_to_mmzoe.py \
#     depth_anything_v2_vitl.pth checkpoints/da2_vitl_core-mmzoe.pth
_base_ = [
    '../_base_/models/zoedepth_da_vitl.py',
    '../_base_/recipes/da2_relative_518.py',
]
model = dict(
    data_preprocessor=_base_.da2_relative_518_preprocessor,
    core_checkpoint='checkpoints/da2_vitl_core-mmzoe.pth')
