"""Depth for video: frame sources, depth-video writer, temporal smoothing.

Reading and writing go through OpenCV (``cv2.VideoCapture`` /
``cv2.VideoWriter``, FFmpeg backend); nothing is decoded by hand. A frame
that cannot be decoded is yielded as an error (index and message) and the
reader goes on with the next one, so one corrupt frame costs only itself.

Example:
    >>> from mmzoe.apis import inference_depth, init_model
    >>> from mmzoe.apis.video_io import (DepthVideoWriter, FrameReader,
    ...                                  predict_video)
    >>> reader = FrameReader('room.mp4')
    >>> with DepthVideoWriter('room_depth.mp4', reader.fps) as writer:
    ...     stats = predict_video(lambda f: inference_depth(model, f),
    ...                           reader, writer)
"""
import os
import os.path as osp
import re
import time
from dataclasses import dataclass
from typing import (Callable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np

from .image_io import ImageLoadError, load_rgb_image

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv', '.mjpeg', '.mjpg')
#: fourcc per output extension (OpenCV's FFmpeg writer)
_FOURCC = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG',
           '.mkv': 'MJPG'}
_CAMERA = re.compile(r'^(?:camera:|cam:)?(\d+)$')


class VideoError(RuntimeError):
    """A video or camera that cannot be opened or written."""


def is_video_file(path: str) -> bool:
    """Whether ``path`` is an existing file with a video extension."""
    return osp.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def camera_index(source: str) -> Optional[int]:
    """The camera index of ``'camera:N'`` / ``'N'`` (not an existing path)."""
    if osp.exists(source):
        return None
    found = _CAMERA.match(source.strip())
    return int(found.group(1)) if found else None


@dataclass
class Frame:
    """One frame of a source.

    Args:
        index (int): Position in the source (0-based, counting bad frames).
        name (str): Output name stem (``frame_000042`` or the file stem).
        image (np.ndarray, optional): HxWx3 uint8 RGB, None if unreadable.
        error (str, optional): Why the frame could not be read.
    """
    index: int
    name: str
    image: Optional[np.ndarray] = None
    error: Optional[str] = None


class FrameReader:
    """Frames of a video file, a camera or a list of image files.

    Args:
        source (str | int | Sequence[str]): A video file, a camera index
            (int), or image files (the frames, in order).
        max_frames (int, optional): Stop after this many frames.
        max_failures (int): Give up after this many unreadable frames in a
            row (a camera that stopped, a truncated file). Defaults to 25.
        fps (float, optional): Frame rate for image files / when the video
            does not tell. Defaults to 30.
    """

    def __init__(self,
                 source: Union[str, int, Sequence[str]],
                 max_frames: Optional[int] = None,
                 max_failures: int = 25,
                 fps: Optional[float] = None) -> None:
        self.source = source
        self.max_frames = max_frames
        self.max_failures = max_failures
        self.files: Optional[List[str]] = None
        self.cap = None
        self.stopped_early: Optional[str] = None
        self.fps = float(fps) if fps else 30.0
        self.num_frames: Optional[int] = None
        if isinstance(source, (list, tuple)):
            self.files = list(source)
            self.num_frames = len(self.files)
            self.label = (osp.dirname(self.files[0]) or '.') if self.files \
                else 'frames'
        else:
            import cv2
            self.label = (f'camera {source}' if isinstance(source, int) else
                          str(source))
            self.cap = cv2.VideoCapture(source)
            if not self.cap.isOpened():
                raise VideoError(f'{self.label}: cannot open it as a video '
                                 '(OpenCV/FFmpeg).')
            if fps is None:
                src_fps = self.cap.get(cv2.CAP_PROP_FPS)
                if src_fps and np.isfinite(src_fps) and 0 < src_fps < 1000:
                    self.fps = float(src_fps)
            if isinstance(source, str):
                count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
                self.num_frames = count if count > 0 else None
        if self.max_frames is not None and self.num_frames is not None:
            self.num_frames = min(self.num_frames, self.max_frames)

    def __iter__(self) -> Iterator[Frame]:
        if self.files is not None:
            yield from self._iter_files()
        else:
            yield from self._iter_capture()

    def _iter_files(self) -> Iterator[Frame]:
        for i, path in enumerate(self.files[:self.num_frames]):
            name = osp.splitext(osp.basename(path))[0]
            try:
                yield Frame(i, name, image=load_rgb_image(path))
            except ImageLoadError as err:
                yield Frame(i, name, error=str(err))

    def _iter_capture(self) -> Iterator[Frame]:
        index, failures = 0, 0
        while self.max_frames is None or index < self.max_frames:
            if self.num_frames is not None and index >= self.num_frames:
                break
            ok, bgr = self.cap.read()
            name = f'frame_{index:06d}'
            if ok and bgr is not None and bgr.ndim == 3:
                failures = 0
                yield Frame(index, name, image=np.ascontiguousarray(
                    bgr[..., ::-1]))
            else:
                failures += 1
                if self.num_frames is None and isinstance(self.source, str):
                    break  # end of a stream of unknown length
                if failures >= self.max_failures:
                    self.stopped_early = (
                        f'{self.label}: stopped after {failures} unreadable '
                        f'frames in a row (at frame {index})')
                    break
                yield Frame(index, name,
                            error=f'{self.label}: frame {index} cannot be '
                            'decoded (corrupt or missing); skipped')
            index += 1

    def close(self) -> None:
        """Release the capture."""
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class DepthVideoWriter:
    """Writes depth maps as a colour video with a fixed metric range.

    The frames keep the input size (no colour bar: the range is fixed, say
    it in the file name or the docs). Use as a context manager, or call
    :meth:`close`.

    Args:
        path (str): Output file; ``.mp4``/``.mov``/``.m4v`` (mp4v),
            ``.avi``/``.mkv`` (MJPG).
        fps (float): Frame rate.
        vmin (float): Depth (m) of the first colour. Defaults to 0.
        vmax (float): Depth (m) of the last colour. Defaults to 10.
        cmap (str): Colour map. Defaults to ``'inferno'``.
    """

    def __init__(self,
                 path: str,
                 fps: float,
                 vmin: float = 0.0,
                 vmax: float = 10.0,
                 cmap: str = 'inferno') -> None:
        ext = osp.splitext(path)[1].lower()
        if ext not in _FOURCC:
            raise VideoError(f'{path}: unsupported video extension "{ext}" '
                             f'(use one of {", ".join(sorted(_FOURCC))}).')
        self.path, self.fps = path, float(fps)
        self.vmin, self.vmax, self.cmap = vmin, vmax, cmap
        self.size: Optional[Tuple[int, int]] = None
        self.frames = 0
        self._writer = None

    def write(self, depth: np.ndarray) -> None:
        """Append one HxW depth map (metres)."""
        import cv2

        from mmzoe.visualization import colorize_depth
        h, w = depth.shape[:2]
        if self._writer is None:
            os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(
                *_FOURCC[osp.splitext(self.path)[1].lower()])
            self._writer = cv2.VideoWriter(self.path, fourcc, self.fps,
                                           (w, h))
            if not self._writer.isOpened():
                raise VideoError(f'{self.path}: OpenCV cannot write this '
                                 'video (codec/backend missing?).')
            self.size = (h, w)
        elif (h, w) != self.size:
            raise VideoError(f'{self.path}: frame size {(h, w)} differs from '
                             f'the first frame {self.size}.')
        color = colorize_depth(depth, self.vmin, self.vmax, cmap=self.cmap)
        self._writer.write(np.ascontiguousarray(color[..., ::-1]))
        self.frames += 1

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> 'DepthVideoWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TemporalSmoother:
    """Exponential moving average of depth over frames (off when 0).

    ``d_t = alpha * d_{t-1} + (1 - alpha) * p_t``; restarts when the frame
    size changes.

    Args:
        alpha (float): Weight of the past, in [0, 1). 0 disables it.
    """

    def __init__(self, alpha: float = 0.0) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f'smoothing alpha must be in [0, 1), got '
                             f'{alpha}.')
        self.alpha = float(alpha)
        self._state: Optional[np.ndarray] = None

    def __call__(self, depth: np.ndarray) -> np.ndarray:
        if self.alpha == 0.0:
            return depth
        if self._state is None or self._state.shape != depth.shape:
            self._state = depth.astype(np.float32, copy=True)
        else:
            self._state = (self.alpha * self._state +
                           (1.0 - self.alpha) * depth).astype(np.float32)
        return self._state


@dataclass
class VideoStats:
    """What :func:`predict_video` did."""
    frames_in: int = 0
    frames_written: int = 0
    failed: Optional[List[str]] = None
    seconds: float = 0.0
    interrupted: bool = False


def predict_video(predict: Callable[[List[np.ndarray]], List[np.ndarray]],
                  reader: FrameReader,
                  writer: Optional[DepthVideoWriter] = None,
                  frames_dir: Optional[str] = None,
                  batch_size: int = 4,
                  smoother: Optional[TemporalSmoother] = None,
                  progress=None,
                  on_error: Optional[Callable[[str], None]] = None
                  ) -> VideoStats:
    """Predict depth for every frame of ``reader``, in batches.

    Args:
        predict (Callable): List of HxWx3 uint8 RGB frames -> list of HxW
            depth maps (e.g. a partial of :func:`inference_depth` or an
            :class:`~mmzoe.apis.OnnxDepthPredictor`).
        reader (FrameReader): The frames.
        writer (DepthVideoWriter, optional): The colour depth video.
        frames_dir (str, optional): Also write ``<name>_depth.png`` (uint16
            millimetres) per frame here.
        batch_size (int): Frames per ``predict`` call. Defaults to 4.
        smoother (TemporalSmoother, optional): Applied in frame order
            before writing.
        progress (optional): Object with ``update()`` (one call per frame).
        on_error (Callable, optional): Called with the message of every
            frame that is skipped (unreadable, wrong size, failed).

    Returns:
        VideoStats: Counts and the skipped frames' messages.
    """
    from mmzoe.visualization import write_depth_png
    stats = VideoStats(failed=[])
    start = time.perf_counter()
    if frames_dir is not None:
        os.makedirs(frames_dir, exist_ok=True)
    first_size: List[Tuple[int, int]] = []

    def fail(msg: str) -> None:
        stats.failed.append(msg)
        if on_error is not None:
            on_error(msg)
        if progress is not None:
            progress.update()

    def flush(batch: List[Frame]) -> None:
        if not batch:
            return
        try:
            depths = predict([f.image for f in batch])
        except Exception as err:  # report these frames, keep going
            for f in batch:
                fail(f'{reader.label}: frame {f.index}: inference failed: '
                     f'{type(err).__name__}: {err}')
            return
        for f, depth in zip(batch, depths):
            if smoother is not None:
                depth = smoother(depth)
            if writer is not None:
                writer.write(depth)
            if frames_dir is not None:
                write_depth_png(
                    osp.join(frames_dir, f'{f.name}_depth.png'), depth)
            stats.frames_written += 1
            if progress is not None:
                progress.update()

    batch: List[Frame] = []
    try:
        frames = iter(reader)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except KeyboardInterrupt:  # a camera: Ctrl-C ends the video
                stats.interrupted = True
                break
            stats.frames_in += 1
            if frame.image is None:
                fail(frame.error or f'frame {frame.index}: unreadable')
                continue
            size = frame.image.shape[:2]
            if not first_size:
                first_size.append(size)
            elif size != first_size[0]:
                fail(f'{reader.label}: frame {frame.index} ({frame.name}) '
                     f'has size {size}, the video {first_size[0]}; skipped')
                continue
            batch.append(frame)
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
        flush(batch)
    finally:
        reader.close()
        stats.seconds = time.perf_counter() - start
    if reader.stopped_early:
        stats.failed.append(reader.stopped_early)
        if on_error is not None:
            on_error(reader.stopped_early)
    return stats
