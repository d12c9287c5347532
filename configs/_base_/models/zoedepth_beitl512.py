# ZoeDepth (ZoeD-M12-N layout) on the MiDaS v3.1 DPT BEiT-L-512 core
# (timm beit_large_patch16_512: its relative position bias tables are made for
# a 32x32 grid; MiDaS' hooks 5, 11, 17, 23, channels 256/512/1024/1024).
# Network input 512x512, MiDaS v3.1's size for this core, aspect ratio kept
# and sides multiples of 32 as upstream's `infer` mode (keep_ratio=False for
# upstream's `eval` / `train` modes). Everything else as BEiT-L-384.
_base_ = ['./zoedepth_beitl384.py']
data_preprocessor = dict(size=(512, 512))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(arch='beit_large_patch16_512'))
