"""Tests of the inference API's image loading and input checks."""
import re

import numpy as np
import pytest
from PIL import Image

from mmzoe.apis import ImageLoadError, check_rgb_array, load_rgb_image


def _rgb(h=20, w=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3),
                                                dtype=np.uint8)


def test_load_png_rgb_and_rgba(tmp_path):
    img = _rgb()
    path = str(tmp_path / 'a.png')
    Image.fromarray(img).save(path)
    assert np.array_equal(load_rgb_image(path), img)  # RGB order kept
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1, ), 7, np.uint8)],
                          axis=2)
    path4 = str(tmp_path / 'b.png')
    Image.fromarray(rgba, mode='RGBA').save(path4)
    assert np.array_equal(load_rgb_image(path4), img)


def test_exif_orientation_applied(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:5, :5] = (255, 0, 0)  # red top-left corner as stored
    path = str(tmp_path / 'rot.jpg')
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(img).save(path, exif=exif, quality=100)
    out = load_rgb_image(path)
    assert out.shape == (30, 20, 3)
    # displayed upright: the stored top-left corner is now top-right
    assert out[1, -2, 0] > 200 and out[1, 1, 0] < 60


def test_bad_files_are_named(tmp_path):
    gray = str(tmp_path / 'gray.png')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(gray)
    with pytest.raises(ImageLoadError, match=re.escape(gray) + '.*grayscale'):
        load_rgb_image(gray)
    corrupt = str(tmp_path / 'corrupt.jpg')
    with open(corrupt, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 this is not really a jpeg')
    with pytest.raises(ImageLoadError, match=re.escape(corrupt)):
        load_rgb_image(corrupt)
    truncated = str(tmp_path / 'truncated.jpg')
    Image.fromarray(_rgb(64, 64)).save(truncated)
    data = open(truncated, 'rb').read()
    with open(truncated, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ImageLoadError, match=re.escape(truncated)):
        load_rgb_image(truncated)
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(ImageLoadError,
                       match=re.escape(missing) + '.*not found'):
        load_rgb_image(missing)
    sixteen = str(tmp_path / 'sixteen.png')
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(sixteen)
    with pytest.raises(ImageLoadError, match=re.escape(sixteen)):
        load_rgb_image(sixteen)


@pytest.mark.parametrize('array, pattern', [
    (np.zeros((8, 8), np.uint8), 'grayscale'),
    (np.zeros((8, 8, 1), np.uint8), 'grayscale'),
    (np.zeros((8, 8, 4), np.uint8), r'HxWx3'),
    (np.zeros((3, 8, 8), np.uint8), r'HxWx3'),
    (np.zeros((8, 8, 3), np.float32), 'uint8'),
    ([[1, 2, 3]], 'numpy array'),
])
def test_check_rgb_array_errors(array, pattern):
    with pytest.raises(ImageLoadError, match=pattern):
        check_rgb_array(array, name='image 2 of the list')
    with pytest.raises(ImageLoadError, match='image 2 of the list'):
        check_rgb_array(array, name='image 2 of the list')
