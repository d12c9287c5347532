"""Write a tiny NYU-labeled-layout ``.mat`` for the tooling tests.

Usage: ``python tests/configs/make_tiny_nyu.py OUT.mat [N] [H] [W]``.
Depth is a smooth ramp (1-4 m) with some invalid (0) pixels; labels are NYU
ids 0..40. Deterministic.
"""
import os
import sys

import numpy as np


def make_tiny_nyu(path: str, num: int = 6, height: int = 48,
                  width: int = 64, seed: int = 0) -> None:
    """Write ``num`` random samples of size ``height`` x ``width``."""
    from mmzoe.datasets.utils.nyu_mat import write_nyu_labeled_mat
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    images, depths, labels = [], [], []
    for i in range(num):
        depth = 1.0 + 3.0 * (xx / width + yy / height) / 2 + 0.1 * i
        depth[rng.random((height, width)) < 0.05] = 0.0
        img = (255 * np.stack([xx / width, yy / height,
                               depth / 5.0], -1)).astype(np.uint8)
        images.append(img)
        depths.append(depth.astype(np.float32))
        labels.append(rng.integers(0, 41, (height, width)).astype(np.uint16))
    write_nyu_labeled_mat(path, images, depths, labels)


if __name__ == '__main__':
    make_tiny_nyu(sys.argv[1], *[int(a) for a in sys.argv[2:]])
