"""End-to-end test of ``tools/data/make_synthetic_nyu.py`` (NYU .mat out)."""
import importlib.util
import os.path as osp

import numpy as np

from mmzoe_synthetic import render_frame
from mmzoe.datasets.utils import NYULabeledMatReader, read_mat_string_list

from zoe_testing import REPO

TOOL = osp.join(REPO, 'tools',
                'data', 'make_synthetic_nyu.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('make_synthetic_nyu', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_make_synthetic_nyu_writes_the_nyu_layout(tmp_path, capsys):
    out = str(tmp_path / 'synth.mat')
    _load_tool().main([out, '--num', '3', '--seed', '11', '--scale', '0.25',
                       '--views-per-scene', '2', '--compression', 'gzip'])
    assert '[3/3] frames rendered' in capsys.readouterr().out
    reader = NYULabeledMatReader(out)
    assert reader.num_images == 3
    import h5py
    with h5py.File(out, 'r') as f:
        # MATLAB column-major layout: (N, 3, W, H) and (N, W, H)
        assert f['images'].shape == (3, 3, 160, 120)
        assert f['depths'].shape == (3, 160, 120)
        scenes = read_mat_string_list(f, 'scenes')
        types = read_mat_string_list(f, 'sceneTypes')
        raw2 = f['rawDepths'][2].T
    assert scenes[0] == scenes[1] != scenes[2]
    assert scenes[2].endswith('_0002') and scenes[2].startswith(types[2])
    ref = render_frame(11, 2, scale=0.25, views_per_scene=2)
    np.testing.assert_array_equal(reader.read_image(2), ref.rgb)
    np.testing.assert_array_equal(reader.read_depth(2), ref.depth)
    np.testing.assert_array_equal(reader.read_labels(2), ref.labels)
    np.testing.assert_array_equal(raw2, ref.raw_depth)
    reader.close()
