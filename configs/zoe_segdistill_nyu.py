# Short alias of the source report's recipe (see the file below).
_base_ = ['./zoedepth/zoe_segdistill_swin2b_nyu-384x384.py']
