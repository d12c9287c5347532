# ZoeD_M12_N for inference (tools/infer.py, mmzoe.apis.inference_depth) with
# the converted released checkpoint: the model config as it is, i.e.
# upstream's `infer` config mode (aspect ratio kept, sides multiples of 32,
# about 384x512), as torch.hub's ZoeD_N.
#     python tools/model_converters/zoedepth_to_mmzoe.py ZoeD_M12_N.pt \
#         checkpoints/zoedepth_m12_n-mmzoe.pth
#     python tools/infer.py configs/zoedepth/zoedepth_beitl384_nyu.py \
#         checkpoints/zoedepth_m12_n-mmzoe.pth room.jpg
_base_ = [
    '../_base_/models/zoedepth_beitl384.py',
    '../_base_/default_runtime.py',
]
