# Depth Anything V2 relative depth through mmzoe's user path (the
# configs/depth_anything/zoedepth_da2-vit{s,b,l}_relative-518.py family): the
# input transform of upstream's infer_image(img, 518): keep the aspect ratio,
# the shorter side at least 518, both sides rounded to multiples of 14,
# bicubic (OpenCV INTER_CUBIC = torch bicubic, align_corners=False).
# MMEngine refuses the same key (`model`) in two bases of one config, so the
# transform is the variable `da2_relative_518_preprocessor`; a leaf composes
#     _base_ = ['../_base_/models/zoedepth_da_vitb.py',
#               '../_base_/recipes/da2_relative_518.py']
#     model = dict(data_preprocessor=_base_.da2_relative_518_preprocessor)
_base_ = ['../default_runtime.py']
da2_relative_518_preprocessor = dict(
    size=(518, 518),
    keep_ratio=True,
    resize_method='lower_bound',
    size_divisor=14,
    interpolation='bicubic',
    align_corners=False)
