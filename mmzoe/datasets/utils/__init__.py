"""Data helpers: NYU metadata, ``.mat`` reading/writing, image loading."""
from .image_io import (ImageLoadError, decode_depth_png, decode_rgb,
                       join_root, read_depth_png, read_label_png,
                       read_mask_png, read_rgb)
from .nyu_bts_export import (BTS_DEPTH_SCALE, BTS_FRAME_SHAPE, BTS_NYU_FOCAL,
                             BTS_RGB_COLS, BTS_RGB_ROWS, bts_black_border,
                             bts_decode_frame, bts_depth_millimetres,
                             bts_encode_frame, bts_export_sample)
from .nyu_mat import (NYULabeledMatReader, read_mat_string,
                      read_mat_string_list, write_nyu_labeled_mat)
from .nyu_meta import (NYU13_PALETTE, NYU_NUM_LABELED, map_nyu894_to_13,
                       mapping_894_to_13, nyu13_class_names, nyu894_names,
                       nyu_official_split)

__all__ = [
    'ImageLoadError', 'decode_depth_png', 'decode_rgb', 'join_root', 'read_depth_png',
    'read_label_png', 'read_mask_png', 'read_rgb',
    'BTS_DEPTH_SCALE', 'BTS_FRAME_SHAPE', 'BTS_NYU_FOCAL', 'BTS_RGB_COLS',
    'BTS_RGB_ROWS', 'bts_black_border', 'bts_decode_frame',
    'bts_depth_millimetres', 'bts_encode_frame', 'bts_export_sample',
    'NYULabeledMatReader', 'read_mat_string', 'read_mat_string_list',
    'write_nyu_labeled_mat', 'NYU13_PALETTE', 'NYU_NUM_LABELED',
    'map_nyu894_to_13', 'mapping_894_to_13', 'nyu13_class_names',
    'nyu894_names', 'nyu_official_split'
]
