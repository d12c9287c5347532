"""Procedural synthetic indoor scenes in the NYU Depth V2 format.

A package of its own next to ``mmzoe`` (installed by the same ``setup.py``):
it registers nothing and no config builds it. Its users are the CPU demo
(``tools/demo.py``), ``tools/data/make_synthetic_nyu.py``,
``tools/deployment/make_synthetic_video.py`` and the tests; the library reads
what they write as any NYU Depth V2 labeled ``.mat``.
"""
from .camera import (NYU_CX, NYU_CY, NYU_FX, NYU_FY, PinholeCamera,
                     rotation_from_euler)
from .geometry import Box, Composite
from .indoor_scenes import (CAMERA_PRESETS, SCENE_TYPES, CameraRanges,
                            Decal, Frame, IndoorScene,
                            frame_scene, random_camera, random_scene, render,
                            render_frame)
from .kinect import (HOLE_EDGE, HOLE_GRAZING, HOLE_RANGE, HOLE_SPECKLE,
                     HOLE_SURFACE, simulate_kinect)
from .nyu_labels import NYU_LABELS, nyu_id
from .textures import Material

__all__ = [
    'NYU_CX', 'NYU_CY', 'NYU_FX', 'NYU_FY', 'PinholeCamera',
    'rotation_from_euler', 'Box', 'Composite', 'CAMERA_PRESETS',
    'CameraRanges', 'SCENE_TYPES', 'Decal',
    'Frame', 'IndoorScene', 'frame_scene', 'random_camera', 'random_scene',
    'render',
    'render_frame', 'HOLE_EDGE', 'HOLE_GRAZING', 'HOLE_RANGE',
    'HOLE_SPECKLE', 'HOLE_SURFACE', 'simulate_kinect', 'NYU_LABELS',
    'nyu_id', 'Material'
]
