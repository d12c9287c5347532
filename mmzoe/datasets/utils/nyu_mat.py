"""Read/write NYU Depth V2 ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3).

A MATLAB v7.3 ``.mat`` is an HDF5 file with a 512-byte MATLAB header in the
user block. MATLAB stores arrays column-major, so h5py shows every array with
its dimensions reversed: the MATLAB ``480x640x3x1449`` ``images`` array reads
as ``(1449, 3, 640, 480)``, and ``f['images'][i].T`` is image ``i`` as MATLAB
shows it (``480x640x3`` RGB). No rotation is involved anywhere. The real
frames are landscape (480 rows, 640 columns); a file whose frames read as
portrait (e.g. ``(N, 3, 480, 640)`` in h5py, 640x480 frames) was written
transposed and is refused with an error naming it.

:class:`NYULabeledMatReader` reads one sample at a time (one file handle per
process), :func:`write_nyu_labeled_mat` writes the real layout from arrays in
natural ``(N, H, W[, 3])`` orientation (used for synthetic test data).
"""
import datetime
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .nyu_meta import nyu894_names

DEPTH_KEYS = ('depths', 'rawDepths')
#: (rows, columns) of every frame of the real file: landscape. Smaller
#: (synthetic) files may use other sizes, but never portrait frames.
NYU_FRAME_SHAPE = (480, 640)


def _require_h5py():
    """h5py, imported on first use: importing the datasets (what
    registering mmzoe's modules does) then costs no h5py (~11 MB of
    resident memory in every inference process)."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - a runtime requirement
        raise ImportError('reading/writing NYU .mat files needs h5py: '
                          '`pip install h5py`') from e
    return h5py


# ----------------------------------------------------------------- strings
def read_mat_string(f: 'h5py.File', ref) -> str:
    """Decode one MATLAB char array (a ``(n_chars, 1)`` uint16 dataset that
    an object reference points to) into a Python string.

    Args:
        f (h5py.File): the open file.
        ref: an ``h5py.Reference`` (or a dataset path) to the char array.

    Returns:
        str: the decoded string (``''`` for MATLAB empty arrays).
    """
    obj = f[ref]
    if int(np.asarray(obj.attrs.get('MATLAB_empty', 0))) == 1:
        return ''
    codes = np.asarray(obj[()]).ravel(order='C')
    return ''.join(chr(int(c)) for c in codes)


def read_mat_string_list(f: 'h5py.File', key: str) -> List[str]:
    """Decode a MATLAB cell array of strings stored as a ``(1, n)`` dataset
    of object references (``names``, ``scenes``, ``sceneTypes``...).

    Args:
        f (h5py.File): the open file.
        key (str): the dataset name.

    Returns:
        list[str]: the strings in order.
    """
    if key not in f:
        raise KeyError(f'{f.filename}: no dataset {key!r} '
                       f'(keys: {sorted(f.keys())})')
    refs = np.asarray(f[key][()]).ravel(order='C')
    return [read_mat_string(f, r) for r in refs]


# ----------------------------------------------------------------- reader
class NYULabeledMatReader:
    """Lazy reader of ``nyu_depth_v2_labeled.mat``: one sample per call.

    The HDF5 handle is opened on first use and kept per process id, so a
    reader created in the main process and copied into data-loader workers
    (fork or spawn) opens its own handle in each worker. The whole file is
    never loaded.

    Args:
        path (str): path of the ``.mat`` file.
        depth_key (str): ``'depths'`` (in-painted, dense) or ``'rawDepths'``
            (raw Kinect, 0 = missing). Defaults to ``'depths'``.
        with_labels (bool): require and read ``labels``. Defaults to True.
    """

    def __init__(self,
                 path: str,
                 depth_key: str = 'depths',
                 with_labels: bool = True) -> None:
        _require_h5py()
        if depth_key not in DEPTH_KEYS:
            raise ValueError(f'depth_key must be one of {DEPTH_KEYS}, got '
                             f'{depth_key!r}')
        self.path = str(path)
        self.depth_key = depth_key
        self.with_labels = with_labels
        self._handles: Dict[int, 'h5py.File'] = {}
        self.num_images, self.height, self.width = self._check_layout()

    # -- handle management (one per process)
    def _open(self) -> 'h5py.File':
        path = self.path
        if not osp.exists(path):
            raise FileNotFoundError(f'{path}: NYU labeled .mat file not found')
        if not osp.isfile(path):
            raise IsADirectoryError(f'{path}: expected the NYU labeled .mat '
                                    'file, got a directory')
        if not _require_h5py().is_hdf5(path):
            raise ValueError(
                f'{path}: not an HDF5 file. nyu_depth_v2_labeled.mat must be '
                'the MATLAB v7.3 (HDF5) file from the NYU Depth V2 site '
                '(2.97 GB); the file may be truncated or corrupt')
        try:
            return _require_h5py().File(path, 'r')
        except OSError as e:
            raise OSError(f'{path}: cannot open as HDF5 (corrupt or '
                          f'truncated file?): {e}') from e

    @property
    def file(self) -> 'h5py.File':
        """The h5py handle of the current process (opened lazily)."""
        pid = os.getpid()
        handle = self._handles.get(pid)
        if handle is None or not handle.id.valid:
            # handles inherited through fork belong to the parent: drop them
            self._handles = {}
            handle = self._open()
            self._handles[pid] = handle
        return handle

    def close(self) -> None:
        """Close the handle of the current process."""
        handle = self._handles.pop(os.getpid(), None)
        if handle is not None and handle.id.valid:
            handle.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_handles'] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    # -- layout checks
    def _check_layout(self):
        f = self.file
        path = self.path
        keys = ['images', self.depth_key] + (['labels']
                                             if self.with_labels else [])
        for key in keys:
            if key not in f:
                raise KeyError(
                    f'{path}: missing dataset {key!r} (found: '
                    f'{sorted(k for k in f.keys())}); is this '
                    'nyu_depth_v2_labeled.mat?')
        images = f['images']
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f'{path}: dataset "images" has shape {images.shape}; '
                'expected (N, 3, W, H) as h5py shows MATLAB\'s HxWx3xN array '
                '(real file: (1449, 3, 640, 480))')
        if images.dtype != np.uint8:
            raise ValueError(f'{path}: dataset "images" has dtype '
                             f'{images.dtype}, expected uint8')
        n, _, w, h = images.shape
        if h > w:
            raise ValueError(
                f'{path}: frames are {h}x{w} (rows x columns, portrait); NYU '
                f'Depth V2 labeled frames are {NYU_FRAME_SHAPE[0]}x'
                f'{NYU_FRAME_SHAPE[1]} (h5py shape (N, 3, '
                f'{NYU_FRAME_SHAPE[1]}, {NYU_FRAME_SHAPE[0]})): the file is '
                'transposed (its arrays were written without reversing '
                'MATLAB\'s dimension order)')
        for key in keys[1:]:
            dset = f[key]
            if dset.shape != (n, w, h):
                raise ValueError(
                    f'{path}: dataset {key!r} has shape {dset.shape}, '
                    f'expected {(n, w, h)} to match "images" {images.shape}')
        if not np.issubdtype(f[self.depth_key].dtype, np.floating):
            raise ValueError(f'{path}: dataset {self.depth_key!r} has dtype '
                             f'{f[self.depth_key].dtype}, expected float '
                             '(metres)')
        if self.with_labels and not np.issubdtype(f['labels'].dtype,
                                                  np.integer):
            raise ValueError(f'{path}: dataset "labels" has dtype '
                             f'{f["labels"].dtype}, expected uint16')
        return n, h, w

    def _check_index(self, idx: int) -> int:
        idx = int(idx)
        if not 0 <= idx < self.num_images:
            raise IndexError(f'{self.path}: sample index {idx} out of range '
                             f'(file has {self.num_images} images, 0-based)')
        return idx

    def _read(self, key: str, idx: int) -> np.ndarray:
        try:
            arr = self.file[key][idx]
        except (OSError, RuntimeError, ValueError) as e:
            raise OSError(f'{self.path}: cannot read {key}[{idx}] (corrupt '
                          f'or truncated file?): {e}') from e
        return np.ascontiguousarray(arr.T)

    # -- public reading API
    def read_image(self, idx: int) -> np.ndarray:
        """RGB image ``idx`` as an HxWx3 uint8 array."""
        return self._read('images', self._check_index(idx))

    def read_depth(self, idx: int) -> np.ndarray:
        """Depth ``idx`` in metres (HxW float32); 0 = missing for
        ``rawDepths``. Non-finite or negative values raise."""
        idx = self._check_index(idx)
        depth = self._read(self.depth_key, idx).astype(np.float32, copy=False)
        if not np.isfinite(depth).all() or (depth < 0).any():
            raise ValueError(f'{self.path}: {self.depth_key}[{idx}] holds '
                             'NaN/inf or negative depth values')
        return depth

    def read_labels(self, idx: int) -> np.ndarray:
        """NYU 894-id label map ``idx`` (HxW uint16, 0 = unlabeled)."""
        if 'labels' not in self.file:
            raise KeyError(f'{self.path}: missing dataset "labels"')
        return self._read('labels', self._check_index(idx))

    def read_names(self) -> List[str]:
        """The 894 class names stored in the file (``names``)."""
        return read_mat_string_list(self.file, 'names')


# ----------------------------------------------------------------- writer
def _refname(k: int) -> str:
    """Short unique dataset names inside ``#refs#`` (MATLAB uses a, b, ...)."""
    letters = 'abcdefghijklmnopqrstuvwxyz'
    name = ''
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = letters[r] + name
    return name


class _StringWriter:
    """Writes MATLAB char arrays into ``#refs#`` and returns references."""

    def __init__(self, f: 'h5py.File') -> None:
        self.group = f.require_group('#refs#')
        self.count = len(self.group)

    def __call__(self, text: str):
        name = _refname(self.count)
        self.count += 1
        if text == '':
            dset = self.group.create_dataset(
                name, data=np.zeros(2, dtype=np.uint64))
            dset.attrs['MATLAB_class'] = np.bytes_('char')
            dset.attrs['MATLAB_empty'] = np.uint8(1)
        else:
            codes = np.array([ord(c) for c in text], dtype=np.uint16)
            if any(ord(c) > 0xFFFF for c in text):
                raise ValueError(f'cannot store {text!r} as a MATLAB char')
            dset = self.group.create_dataset(name, data=codes[:, None])
            dset.attrs['MATLAB_class'] = np.bytes_('char')
            dset.attrs['MATLAB_int_decode'] = np.int32(2)
        return dset.ref


def _write_cell_of_strings(f: 'h5py.File', key: str,
                           strings: Sequence[str],
                           writer: _StringWriter) -> None:
    h5py = _require_h5py()
    refs = np.empty((1, len(strings)), dtype=h5py.ref_dtype)
    for i, s in enumerate(strings):
        refs[0, i] = writer(str(s))
    dset = f.create_dataset(key, data=refs, dtype=h5py.ref_dtype)
    dset.attrs['MATLAB_class'] = np.bytes_('cell')


def _matlab_header() -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc)
    text = ('MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: '
            f'{now:%a %b %d %H:%M:%S %Y} HDF5 schema 1.00 .')
    header = text.encode('ascii').ljust(116, b' ')[:116]
    header += b' ' * 8  # subsystem data offset (unused)
    header += (0x0200).to_bytes(2, 'little') + b'IM'
    return header.ljust(512, b'\0')


def write_nyu_labeled_mat(path: str,
                          images: Sequence[np.ndarray],
                          depths: Sequence[np.ndarray],
                          labels: Sequence[np.ndarray],
                          raw_depths: Optional[Sequence[np.ndarray]] = None,
                          names: Optional[Sequence[str]] = None,
                          scenes: Optional[Sequence[str]] = None,
                          scene_types: Optional[Sequence[str]] = None,
                          compression: Optional[str] = None,
                          num_images: Optional[int] = None,
                          indices: Optional[Sequence[int]] = None) -> None:
    """Write a file with the layout of ``nyu_depth_v2_labeled.mat``.

    Arrays are given in natural orientation and written the way MATLAB
    v7.3 stores them (dimensions reversed): ``images`` (N,H,W,3) ->
    dataset (N,3,W,H) uint8, depths (N,H,W) -> (N,W,H) float32, labels ->
    (N,W,H) uint16, ``instances`` (N,W,H) uint8 zeros, ``accelData`` (4,N)
    float32 zeros, ``names`` (1,894) and ``scenes``/``sceneTypes``/
    ``rawRgbFilenames``/``rawDepthFilenames`` (1,N) object references to
    ``(n_chars, 1)`` uint16 char arrays under ``#refs#``. The 512-byte MATLAB
    header makes the file a valid v7.3 MAT-file. ``namesToIds`` (an opaque
    MATLAB object in the real file) is not written.

    Args:
        path (str): output file (overwritten).
        images (Sequence[np.ndarray]): N RGB images (H, W, 3) uint8. Any
            sequence works (e.g. a lazy one); samples are written one by one.
        depths (Sequence[np.ndarray]): N depth maps (H, W) in metres.
        labels (Sequence[np.ndarray]): N label maps (H, W) of NYU ids 0..894.
        raw_depths (Sequence[np.ndarray], optional): N raw depth maps (H, W)
            in metres, 0 = missing. Defaults to ``depths``.
        names (Sequence[str], optional): class names. Defaults to the 894
            NYU names shipped with mmzoe.
        scenes (Sequence[str], optional): N scene names. Defaults to
            ``synthetic_XXXX``.
        scene_types (Sequence[str], optional): N scene types. Defaults to
            ``'synthetic'``.
        compression (str, optional): h5py compression (e.g. ``'gzip'``);
            when set the datasets are chunked one sample per chunk.
        num_images (int, optional): frames in the file (default: as many
            as ``images``). With ``indices``, a sparse file for tests: only
            the given samples are written, sample ``k`` as frame
            ``indices[k]``; the other frames are never written (one chunk
            per frame, so they take no space) and read as zeros.
            ``scenes``/``scene_types`` then have ``num_images`` entries.
        indices (Sequence[int], optional): frame of each given sample.
    """
    _require_h5py()
    n_given = len(images)
    if n_given == 0:
        raise ValueError(f'{path}: need at least one image')
    chunked = compression is not None or indices is not None
    if indices is None:
        indices = range(n_given)
        n = n_given if num_images is None else int(num_images)
        if n != n_given:
            raise ValueError(f'{path}: num_images={n} without indices, '
                             f'images has {n_given}')
    else:
        indices = [int(i) for i in indices]
        n = int(num_images) if num_images is not None else max(indices) + 1
        if len(indices) != n_given or len(set(indices)) != n_given or \
                not all(0 <= i < n for i in indices):
            raise ValueError(f'{path}: indices must be {n_given} distinct '
                             f'frames in 0..{n - 1}')
    for seq, what, size in ((depths, 'depths', n_given),
                            (labels, 'labels', n_given),
                            (raw_depths, 'raw_depths', n_given),
                            (scenes, 'scenes', n),
                            (scene_types, 'scene_types', n)):
        if seq is not None and len(seq) != size:
            raise ValueError(f'{path}: {what} has {len(seq)} entries, '
                             f'expected {size}')
    first = np.asarray(images[0])
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f'{path}: images must be (N, H, W, 3), got a '
                         f'sample of shape {first.shape}')
    h, w = first.shape[:2]
    names = list(nyu894_names() if names is None else names)
    scenes = [f'synthetic_{i:04d}' for i in range(n)] \
        if scenes is None else list(scenes)
    scene_types = ['synthetic'] * n if scene_types is None \
        else list(scene_types)
    if raw_depths is None:
        raw_depths = depths

    def create(f, key, shape, dtype, mclass):
        kwargs = {}
        if chunked:
            kwargs = dict(chunks=(1, ) + tuple(shape[1:]))
            if compression is not None:
                kwargs['compression'] = compression
        dset = f.create_dataset(key, shape=shape, dtype=dtype, **kwargs)
        dset.attrs['MATLAB_class'] = np.bytes_(mclass)
        return dset

    with _require_h5py().File(path, 'w', userblock_size=512) as f:
        d_img = create(f, 'images', (n, 3, w, h), np.uint8, 'uint8')
        d_dep = create(f, 'depths', (n, w, h), np.float32, 'single')
        d_raw = create(f, 'rawDepths', (n, w, h), np.float32, 'single')
        d_lab = create(f, 'labels', (n, w, h), np.uint16, 'uint16')
        d_ins = create(f, 'instances', (n, w, h), np.uint8, 'uint8')
        for i, frame in enumerate(indices):
            img = np.asarray(images[i])
            if img.shape != (h, w, 3) or img.dtype != np.uint8:
                raise ValueError(f'{path}: image {i} has shape {img.shape} '
                                 f'dtype {img.dtype}, expected ({h}, {w}, 3)'
                                 ' uint8')
            d_img[frame] = img.T
            for src, dset, what in ((depths, d_dep, 'depth'),
                                    (raw_depths, d_raw, 'raw depth')):
                arr = np.asarray(src[i], dtype=np.float32)
                if arr.shape != (h, w):
                    raise ValueError(f'{path}: {what} {i} has shape '
                                     f'{arr.shape}, expected {(h, w)}')
                dset[frame] = arr.T
            lab = np.asarray(labels[i])
            if lab.shape != (h, w):
                raise ValueError(f'{path}: labels {i} has shape {lab.shape},'
                                 f' expected {(h, w)}')
            if lab.size and (lab.min() < 0 or lab.max() > len(names)):
                raise ValueError(f'{path}: labels {i} has ids outside '
                                 f'0..{len(names)}')
            d_lab[frame] = lab.astype(np.uint16).T
            d_ins[frame] = np.zeros((w, h), np.uint8)
        acc = f.create_dataset('accelData', data=np.zeros((4, n), np.float32))
        acc.attrs['MATLAB_class'] = np.bytes_('single')
        strings = _StringWriter(f)
        _write_cell_of_strings(f, 'names', names, strings)
        _write_cell_of_strings(f, 'scenes', scenes, strings)
        _write_cell_of_strings(f, 'sceneTypes', scene_types, strings)
        _write_cell_of_strings(
            f, 'rawRgbFilenames',
            [f'{s}/r-{i:06d}.ppm' for i, s in enumerate(scenes)], strings)
        _write_cell_of_strings(
            f, 'rawDepthFilenames',
            [f'{s}/d-{i:06d}.pgm' for i, s in enumerate(scenes)], strings)
    with open(path, 'r+b') as fh:
        fh.write(_matlab_header())
