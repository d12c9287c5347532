"""Procedural indoor scenes rendered like NYU Depth V2 frames (numpy only).

A scene is a box-shaped room (walls, floor, ceiling) with wall decals
(windows, pictures, doors, whiteboards) and furniture made of axis-aligned
boxes, each surface with a procedural texture and an NYU 894 label id. A
pinhole camera with NYU's intrinsics casts one ray per pixel; the outputs
per frame are

* ``rgb``: (H, W, 3) uint8, Lambertian shading (one point light + ambient),
* ``depth``: (H, W) float32 exact z-depth in metres (along the optical axis,
  as Kinect/NYU depth, not the ray length),
* ``raw_depth``: (H, W) float32 Kinect-like depth with holes (0 = missing,
  see :mod:`.kinect` for the documented reasons), equal to ``depth`` elsewhere,
* ``labels``: (H, W) uint16 NYU 894 label ids (0 = unlabeled).

Frames are deterministic for ``(seed, index)`` (independent of how many
frames are rendered or in which process).

World frame: ``x`` right, ``y`` up, ``z`` into the room; the room spans
``[0, W] x [0, H] x [0, D]``; the camera stands near the back wall
(``z`` small) and looks roughly along ``+z``.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import furniture as fn
from .camera import PinholeCamera
from .geometry import (FACE_BACK, FACE_CEILING, FACE_FLOOR, FACE_FRONT,
                       FACE_LEFT, FACE_RIGHT, Box, Composite, trace)
from .kinect import simulate_kinect
from .nyu_labels import nyu_id
from .palette import MaterialBank, darker, hsv, painted, random_color, wood
from .textures import Material, ValueNoise, shade_texture

SCENE_TYPES = ('bedroom', 'living_room', 'kitchen', 'dining_room', 'office',
               'study')


@dataclass
class Decal:
    """A flat rectangle painted on a room face (window, picture, door...).

    Args:
        face (int): Room face id (see :mod:`.geometry`).
        rect (tuple): ``(s0, s1, r0, r1)`` in the face's surface coordinates
            (``s`` = ``z`` on side walls and ``x`` elsewhere; ``r`` = ``y``
            on walls and ``z`` on floor/ceiling).
        material (int): Material index.
    """

    face: int
    rect: Tuple[float, float, float, float]
    material: int


@dataclass
class IndoorScene:
    """A room with furniture, decals, materials and a light.

    Args:
        size (tuple): Room ``(W, H, D)`` in metres.
        materials (list[Material]): Materials indexed by the G-buffer.
        room_materials (list[int]): Material index per room face id.
        composites (list[Composite]): Furniture.
        decals (list[Decal]): Wall decals, applied in order.
        light (np.ndarray): Point light position (3,).
        light_power (float): Diffuse strength of the light.
        ambient (float): Ambient light level.
        camera_zone (float): Furniture keeps ``z >= camera_zone``; cameras
            stand in front of it.
        scene_type (str): e.g. ``'bedroom'``.
        name (str): e.g. ``'bedroom_0001'``.
    """

    size: Tuple[float, float, float]
    materials: List[Material]
    room_materials: List[int]
    composites: List[Composite] = field(default_factory=list)
    decals: List[Decal] = field(default_factory=list)
    light: np.ndarray = field(default_factory=lambda: np.zeros(3))
    light_power: float = 0.7
    ambient: float = 0.4
    camera_zone: float = 1.0
    scene_type: str = 'room'
    name: str = 'room_0001'

    @classmethod
    def empty_room(cls, width: float, height: float,
                   depth: float) -> 'IndoorScene':
        """A bare room (plain wall/floor/ceiling materials, no furniture)."""
        mats = [Material(nyu_id('wall'), (0.7, 0.7, 0.65)),
                Material(nyu_id('floor'), (0.5, 0.4, 0.3)),
                Material(nyu_id('ceiling'), (0.9, 0.9, 0.9))]
        room = [0, 0, 1, 2, 0, 0]
        return cls((width, height, depth), mats, room,
                   light=np.array([width / 2, height - 0.2, depth / 2]))


@dataclass
class Frame:
    """One rendered frame (see the module docstring for the arrays).

    Args:
        rgb (np.ndarray): (H, W, 3) uint8.
        depth (np.ndarray): (H, W) float32 metres.
        raw_depth (np.ndarray): (H, W) float32 metres, 0 = missing.
        labels (np.ndarray): (H, W) uint16 NYU ids.
        hole_reason (np.ndarray): (H, W) uint8 flags of :mod:`.kinect`.
        scene (str): Scene name.
        scene_type (str): Scene type.
        camera (PinholeCamera): The camera.
    """

    rgb: np.ndarray
    depth: np.ndarray
    raw_depth: np.ndarray
    labels: np.ndarray
    hole_reason: np.ndarray
    scene: str
    scene_type: str
    camera: PinholeCamera


class _Placer:
    """Random non-overlapping furniture placement on the floor plan."""

    def __init__(self, rng: np.random.Generator, bank: MaterialBank,
                 scene: IndoorScene) -> None:
        self.rng, self.bank, self.scene = rng, bank, scene
        self.w, _, self.d = scene.size
        self.zone = scene.camera_zone
        self.used: List[Tuple[float, float, float, float]] = []

    def _free(self, x0: float, z0: float, sx: float, sz: float) -> bool:
        if x0 < 0 or z0 < self.zone or x0 + sx > self.w or z0 + sz > self.d:
            return False
        for ax0, az0, ax1, az1 in self.used:
            if (x0 < ax1 + 0.05 and ax0 < x0 + sx + 0.05 and z0 < az1 + 0.05
                    and az0 < z0 + sz + 0.05):
                return False
        return True

    def _commit(self, piece: fn.Piece, k: int, x0: float, z0: float,
                y0: float = 0.0, occupy: bool = True) -> Composite:
        sx, sz = fn.footprint(piece, k)
        if occupy:
            self.used.append((x0, z0, x0 + sx, z0 + sz))
        comp = fn.place(piece, k, x0, z0, y0)
        self.scene.composites.append(comp)
        return comp

    def against_wall(self, piece: fn.Piece,
                     walls: Sequence[str] = ('far', 'left', 'right'),
                     tries: int = 25) -> Optional[Composite]:
        """Put ``piece`` with its back against a random wall."""
        eps = 0.005
        for _ in range(tries):
            wall = walls[self.rng.integers(len(walls))]
            k = {'far': 0, 'left': 1, 'right': 3}[wall]
            sx, sz = fn.footprint(piece, k)
            if wall == 'far':
                x0 = self.rng.uniform(0, max(self.w - sx, 1e-3))
                z0 = self.d - sz - eps
            else:
                z0 = self.rng.uniform(self.zone, max(self.d - sz, self.zone))
                x0 = eps if wall == 'left' else self.w - sx - eps
            if self._free(x0, z0, sx, sz):
                return self._commit(piece, k, x0, z0)
        return None

    def free(self, piece: fn.Piece, k: Optional[int] = None,
             tries: int = 25) -> Optional[Composite]:
        """Put ``piece`` anywhere on the floor in front of the camera zone."""
        for _ in range(tries):
            kk = int(self.rng.integers(4)) if k is None else k
            sx, sz = fn.footprint(piece, kk)
            x0 = self.rng.uniform(0.05, max(self.w - sx - 0.05, 0.06))
            z0 = self.rng.uniform(self.zone, max(self.d - sz - 0.05,
                                                 self.zone + 1e-3))
            if self._free(x0, z0, sx, sz):
                return self._commit(piece, kk, x0, z0)
        return None

    def table_set(self, label: str = 'table', n_chairs: int = 4) -> None:
        """A table with chairs around it."""
        table = fn.table(self.rng, self.bank, label)
        comp = self.free(table, k=0 if self.rng.random() < 0.6 else 1)
        if comp is None:
            return
        lo, hi = comp.bounds
        chairs = [fn.chair(self.rng, self.bank) for _ in range(n_chairs)]
        # (orientation, x0, z0) next to each side, facing the table
        for i, ch in enumerate(chairs):
            side = i % 4
            cw = ch.w
            if side == 0:  # near side, facing +z (back to the camera)
                x0 = self.rng.uniform(lo[0], max(hi[0] - cw, lo[0] + 1e-3))
                spot = (2, x0, lo[2] - ch.d * 0.6)
            elif side == 1:  # far side, facing -z
                x0 = self.rng.uniform(lo[0], max(hi[0] - cw, lo[0] + 1e-3))
                spot = (0, x0, hi[2] - ch.d * 0.4)
            elif side == 2:  # left side, facing +x
                z0 = self.rng.uniform(lo[2], max(hi[2] - cw, lo[2] + 1e-3))
                spot = (1, lo[0] - ch.d * 0.6, z0)
            else:
                z0 = self.rng.uniform(lo[2], max(hi[2] - cw, lo[2] + 1e-3))
                spot = (3, hi[0] - ch.d * 0.4, z0)
            k, x0, z0 = spot
            sx, sz = fn.footprint(ch, k)
            if (x0 > 0 and z0 > self.zone and x0 + sx < self.w
                    and z0 + sz < self.d):
                self._commit(ch, k, x0, z0, occupy=False)


class _WallPainter:
    """Random non-overlapping decals on the walls."""

    def __init__(self, rng: np.random.Generator, bank: MaterialBank,
                 scene: IndoorScene) -> None:
        self.rng, self.bank, self.scene = rng, bank, scene
        self.used: Dict[int, List[Tuple[float, float]]] = {}

    def _slot(self, width: float) -> Optional[Tuple[int, float]]:
        w, _, d = self.scene.size
        for _ in range(20):
            face = int(self.rng.choice([FACE_FRONT, FACE_FRONT, FACE_LEFT,
                                        FACE_RIGHT]))
            lo = 0.1 if face == FACE_FRONT else self.scene.camera_zone
            hi = (w if face == FACE_FRONT else d) - 0.1 - width
            if hi <= lo:
                continue
            s0 = self.rng.uniform(lo, hi)
            spans = self.used.setdefault(face, [])
            if all(s0 + width + 0.1 < a or s0 > b + 0.1 for a, b in spans):
                spans.append((s0, s0 + width))
                return face, s0
        return None

    def add(self, face: int, rect, mat: Material) -> None:
        self.scene.decals.append(Decal(face, tuple(map(float, rect)),
                                       self.bank.add(mat)))

    def window(self) -> None:
        rng = self.rng
        ww = rng.uniform(0.7, 1.8)
        slot = self._slot(ww + 0.5)
        if slot is None:
            return
        face, s0 = slot
        s0 += 0.25
        h = self.scene.size[1]
        r0, r1 = rng.uniform(0.7, 1.0), min(rng.uniform(1.9, 2.3), h - 0.15)
        self.add(face, (s0, s0 + ww, r0, r1),
                 Material(nyu_id('window'),
                          hsv(0, 0, rng.uniform(0.75, 0.95))))
        sky = hsv(rng.uniform(0.52, 0.62), rng.uniform(0.05, 0.35),
                  rng.uniform(0.85, 1.0))
        glass = Material(nyu_id('window'), sky, darker(sky, 0.8), 'noise',
                         0.5, no_return=True, emissive=True)
        self.add(face, (s0 + 0.06, s0 + ww - 0.06, r0 + 0.06, r1 - 0.06),
                 glass)
        if rng.random() < 0.3:
            mid = s0 + ww / 2
            self.add(face, (mid - 0.03, mid + 0.03, r0, r1),
                     Material(nyu_id('window'), hsv(0, 0, 0.9)))
        style = rng.random()
        if style < 0.35:
            rb = rng.uniform(r0, r1 - 0.2)
            self.add(face, (s0, s0 + ww, rb, r1),
                     Material(nyu_id('blinds'), hsv(0.1, 0.1, 0.85),
                              hsv(0.1, 0.1, 0.6), 'stripes', 0.04))
        elif style < 0.7:
            self._curtains(face, s0, ww)

    def _curtains(self, face: int, s0: float, ww: float) -> None:
        rng = self.rng
        w, h, d = self.scene.size
        mat = self.bank.add(Material(nyu_id('curtain'), random_color(rng),
                                     random_color(rng), 'fabric', 0.08))
        cw, t = rng.uniform(0.25, 0.45), 0.08
        y1 = h - 0.05
        comp = Composite(name='curtain')
        for a, b in ((s0 - cw * 0.7, s0 + cw * 0.3),
                     (s0 + ww - cw * 0.3, s0 + ww + cw * 0.7)):
            if face == FACE_FRONT:
                lo, hi = (max(a, 0.01), 0.05, d - t), (min(b, w - 0.01), y1,
                                                       d - 0.005)
            elif face == FACE_LEFT:
                lo, hi = (0.005, 0.05, a), (t, y1, b)
            else:
                lo, hi = (w - t, 0.05, a), (w - 0.005, y1, b)
            comp.parts.append(Box(lo, hi, mat))
        self.scene.composites.append(comp)

    def picture(self) -> None:
        rng = self.rng
        pw, ph = rng.uniform(0.3, 1.1), rng.uniform(0.3, 0.9)
        slot = self._slot(pw)
        if slot is None:
            return
        face, s0 = slot
        r0 = rng.uniform(1.1, 1.7) - ph / 2
        fr = rng.uniform(0.02, 0.07)
        self.add(face, (s0, s0 + pw, r0, r0 + ph),
                 Material(nyu_id('picture'), random_color(rng, (0, 0.5),
                                                          (0.05, 0.9))))
        self.add(face, (s0 + fr, s0 + pw - fr, r0 + fr, r0 + ph - fr),
                 Material(nyu_id('picture'), random_color(rng),
                          random_color(rng), rng.choice(['noise', 'stripes']),
                          rng.uniform(0.05, 0.3)))

    def door(self) -> None:
        rng = self.rng
        dw = rng.uniform(0.75, 0.95)
        slot = self._slot(dw)
        if slot is None:
            return
        face, s0 = slot
        dh = min(2.05, self.scene.size[1] - 0.2)
        mat = wood(rng, nyu_id('door')) if rng.random() < 0.6 else painted(
            rng, nyu_id('door'))
        self.add(face, (s0, s0 + dw, 0, dh), mat)

    def whiteboard(self) -> None:
        rng = self.rng
        bw = rng.uniform(0.9, 2.0)
        slot = self._slot(bw)
        if slot is None:
            return
        face, s0 = slot
        r0 = rng.uniform(0.9, 1.1)
        self.add(face, (s0, s0 + bw, r0, r0 + rng.uniform(0.6, 1.0)),
                 Material(nyu_id('whiteboard'), hsv(0, 0, 0.95)))


def _room_materials(rng: np.random.Generator,
                    bank: MaterialBank) -> List[int]:
    wall = painted(rng, nyu_id('wall'), str(rng.choice(
        ['plain', 'plain', 'plain', 'noise', 'stripes'])))
    wall.color = hsv(rng.random(), rng.uniform(0.0, 0.35),
                     rng.uniform(0.55, 0.95))
    wall.color2 = darker(wall.color, rng.uniform(0.8, 0.95))
    wall_i = bank.add(wall)
    accent_i = wall_i
    if rng.random() < 0.25:
        accent = painted(rng, nyu_id('wall'))
        accent_i = bank.add(accent)
    kind = rng.choice(['wood', 'tiles', 'noise'], p=[0.45, 0.3, 0.25])
    if kind == 'wood':
        floor = wood(rng, nyu_id('floor'))
    elif kind == 'tiles':
        c = random_color(rng, (0, 0.3), (0.35, 0.9))
        floor = Material(nyu_id('floor'), c, darker(c, 0.6), 'tiles',
                         rng.uniform(0.2, 0.6))
    else:
        c = random_color(rng, (0.05, 0.5), (0.2, 0.7))
        floor = Material(nyu_id('floor'), c, darker(c, 0.7), 'noise', 0.08)
    floor_i = bank.add(floor)
    ceil_i = bank.add(Material(nyu_id('ceiling'), hsv(
        0.1, rng.uniform(0, 0.08), rng.uniform(0.8, 0.97))))
    room = [0] * 6
    room[FACE_LEFT] = room[FACE_RIGHT] = room[FACE_BACK] = wall_i
    room[FACE_FRONT] = accent_i
    room[FACE_FLOOR] = floor_i
    room[FACE_CEILING] = ceil_i
    return room


def random_scene(rng: np.random.Generator,
                 scene_type: Optional[str] = None,
                 name: Optional[str] = None) -> IndoorScene:
    """Draw a random furnished room.

    Args:
        rng (np.random.Generator): Source of randomness.
        scene_type (str, optional): One of :data:`SCENE_TYPES` (random if
            None).
        name (str, optional): Scene name (default ``'<type>_0001'``).

    Returns:
        IndoorScene: The scene.
    """
    if scene_type is None:
        scene_type = str(rng.choice(SCENE_TYPES))
    if scene_type not in SCENE_TYPES:
        raise ValueError(f'unknown scene_type {scene_type!r}; choose from '
                         f'{SCENE_TYPES}')
    w = rng.uniform(2.5, 6.0)
    h = rng.uniform(2.4, 3.0)
    d = rng.uniform(2.5, 8.0)
    bank = MaterialBank()
    room = _room_materials(rng, bank)
    scene = IndoorScene(
        size=(w, h, d), materials=bank.materials, room_materials=room,
        light=np.array([rng.uniform(0.25, 0.75) * w, h - 0.25,
                        rng.uniform(0.3, 0.8) * d]),
        light_power=rng.uniform(0.45, 0.9), ambient=rng.uniform(0.25, 0.5),
        camera_zone=min(1.15, 0.45 * d), scene_type=scene_type,
        name=name or f'{scene_type}_0001')
    pl = _Placer(rng, bank, scene)
    wp = _WallPainter(rng, bank, scene)
    r = rng.random
    for _ in range(rng.integers(0, 3)):
        wp.window()
    if r() < 0.5:
        wp.door()
    if scene_type == 'bedroom':
        pl.against_wall(fn.bed(rng, bank))
        for _ in range(rng.integers(1, 3)):
            pl.against_wall(fn.cabinet(rng, bank, 'night stand'))
        if r() < 0.7:
            pl.against_wall(fn.cabinet(rng, bank, 'dresser'))
    elif scene_type == 'living_room':
        pl.against_wall(fn.sofa(rng, bank))
        if r() < 0.7:
            pl.against_wall(fn.tv_stand(rng, bank))
        if r() < 0.6:
            pl.against_wall(fn.bookshelf(rng, bank))
        if r() < 0.6:
            pl.free(fn.table(rng, bank, 'table'))
        for _ in range(rng.integers(0, 3)):
            pl.free(fn.chair(rng, bank))
    elif scene_type == 'kitchen':
        pl.against_wall(fn.counter(rng, bank), walls=('far',))
        if r() < 0.6:
            pl.against_wall(fn.counter(rng, bank), walls=('left', 'right'))
        if r() < 0.6:
            pl.table_set('table', int(rng.integers(1, 5)))
        if r() < 0.5:
            pl.against_wall(fn.cabinet(rng, bank))
    elif scene_type == 'dining_room':
        pl.table_set('table', int(rng.integers(3, 7)))
        if r() < 0.7:
            pl.against_wall(fn.cabinet(rng, bank))
    elif scene_type == 'office':
        for _ in range(rng.integers(1, 4)):
            comp = pl.against_wall(fn.table(rng, bank, 'desk'))
            if comp is not None and r() < 0.8:
                pl.free(fn.chair(rng, bank))
        if r() < 0.6:
            pl.against_wall(fn.bookshelf(rng, bank))
        if r() < 0.5:
            pl.against_wall(fn.cabinet(rng, bank))
        if r() < 0.6:
            wp.whiteboard()
    else:  # study
        for _ in range(rng.integers(2, 5)):
            pl.against_wall(fn.bookshelf(rng, bank))
        pl.against_wall(fn.table(rng, bank, 'desk'))
        pl.free(fn.chair(rng, bank))
    if r() < 0.4:
        pl.free(fn.floor_cover(rng, bank), k=0)
        # rugs may lie under furniture: free the footprint again
        pl.used.pop()
    if r() < 0.4:
        pl.against_wall(fn.radiator(rng, bank))
    for _ in range(rng.integers(0, 4)):
        pl.free(fn.clutter(rng, bank))
    for _ in range(rng.integers(0, 3)):
        wp.picture()
    if r() < 0.5:
        piece = fn.ceiling_light(rng, bank)
        scene.composites.append(fn.place(
            piece, 0, rng.uniform(0.2, w - piece.w - 0.2),
            rng.uniform(scene.camera_zone, max(d - piece.d - 0.2,
                                               scene.camera_zone + 0.01)), h))
    return scene


@dataclass
class CameraRanges:
    """Ranges (uniform) of the hand-held camera pose, degrees and metres.

    Args:
        height (tuple): Camera height above the floor.
        yaw (tuple): Turn left/right.
        pitch (tuple): Tilt (negative looks down).
        roll (tuple): Rotation about the optical axis.
    """

    height: Tuple[float, float] = (1.0, 1.6)
    yaw: Tuple[float, float] = (-25.0, 25.0)
    pitch: Tuple[float, float] = (-22.0, 5.0)
    roll: Tuple[float, float] = (-4.0, 4.0)


#: Named camera presets: ``'nyu'`` (the default hand-held NYU-like spread)
#: and ``'steady'`` (a tripod-like camera: less tilt and roll, easier to
#: learn from few frames; used by the CPU demo).
CAMERA_PRESETS: Dict[str, CameraRanges] = {
    'nyu': CameraRanges(),
    'steady': CameraRanges(height=(1.2, 1.5), yaw=(-15.0, 15.0),
                           pitch=(-12.0, 0.0), roll=(-1.0, 1.0)),
}


def random_camera(rng: np.random.Generator, scene: IndoorScene,
                  scale: float = 1.0,
                  ranges: Optional[CameraRanges] = None) -> PinholeCamera:
    """A hand-held NYU-like camera standing in the scene's camera zone.

    Args:
        rng (np.random.Generator): Source of randomness.
        scene (IndoorScene): The scene.
        scale (float): Image scale (see :meth:`PinholeCamera.nyu`).
        ranges (CameraRanges, optional): Pose ranges (default: height
            1.0-1.6 m, pitch -22..+5 degrees, yaw +-25, roll +-4).
    """
    rg = CameraRanges() if ranges is None else ranges
    w, h, _ = scene.size
    pos = (rng.uniform(0.3, 0.7) * w, min(rng.uniform(*rg.height), h - 0.3),
           rng.uniform(0.15, scene.camera_zone - 0.2))
    deg = np.pi / 180
    return PinholeCamera.nyu(pos, yaw=rng.uniform(*rg.yaw) * deg,
                             pitch=rng.uniform(*rg.pitch) * deg,
                             roll=rng.uniform(*rg.roll) * deg, scale=scale)


def _surface_coords(p: np.ndarray, axis: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Surface coordinates ``(s, r)`` of hit points by normal axis."""
    s = np.where(axis == 0, p[2], p[0])
    r = np.where(axis == 1, p[2], p[1])
    return s, r


def render(scene: IndoorScene,
           camera: PinholeCamera,
           rng: Optional[np.random.Generator] = None,
           noise_std: float = 2.0) -> Frame:
    """Render ``scene`` seen by ``camera``.

    Args:
        scene (IndoorScene): The scene.
        camera (PinholeCamera): The camera (must stand inside the room and
            outside all furniture).
        rng (np.random.Generator, optional): Randomness of textures, sensor
            noise and Kinect holes (default: seed 0).
        noise_std (float): RGB sensor noise standard deviation (0-255
            scale).

    Returns:
        Frame: The rendered frame.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    hgt, wid = camera.height, camera.width
    dirs = camera.ray_directions()
    origin = np.asarray(camera.position, np.float64)
    gb = trace(origin, dirs, scene.size, scene.room_materials,
               scene.composites)
    pts = origin[:, None] + dirs * gb.t[None]
    s, r = _surface_coords(pts, gb.axis)
    mat = gb.material
    for dec in scene.decals:
        s0, s1, r0, r1 = dec.rect
        on = (gb.face == dec.face) & (s >= s0) & (s <= s1) & (r >= r0) & (
            r <= r1)
        mat = np.where(on, dec.material, mat)

    mats = scene.materials
    noise = ValueNoise(rng)
    albedo = np.zeros((mat.size, 3), np.float32)
    for m in np.unique(mat):
        idx = np.nonzero(mat == m)[0]
        albedo[idx] = shade_texture(mats[m], s[idx], r[idx], noise, int(m))

    normal = np.zeros((3, mat.size), np.float32)
    np.put_along_axis(normal, gb.axis[None].astype(np.int64),
                      gb.sign[None].astype(np.float32), 0)
    to_light = scene.light[:, None] - pts
    dist2 = np.sum(to_light**2, 0)
    cos_l = np.sum(normal * to_light, 0) / np.sqrt(dist2)
    shade = scene.ambient + scene.light_power * np.maximum(cos_l, 0) * (
        6.0 / (6.0 + dist2))
    emissive = np.array([m.emissive for m in mats])[mat]
    shade = np.where(emissive, 1.0, shade).astype(np.float32)
    color = albedo * shade[:, None] * 255.0
    color += rng.normal(0, noise_std, color.shape).astype(np.float32)
    rgb = np.clip(np.round(color), 0, 255).astype(np.uint8).reshape(
        hgt, wid, 3)

    depth = gb.t.astype(np.float32).reshape(hgt, wid)
    labels = np.array([m.label for m in mats], np.uint16)[mat].reshape(
        hgt, wid)
    no_return = np.array([m.no_return for m in mats])[mat].reshape(hgt, wid)
    lum = (albedo @ np.array([0.299, 0.587, 0.114], np.float32)).reshape(
        hgt, wid)
    ray_len = np.sqrt(np.sum(dirs**2, 0))
    cos_v = np.abs(np.sum(normal * dirs, 0)) / ray_len
    raw, reason = simulate_kinect(depth, no_return, lum,
                                  cos_v.reshape(hgt, wid), rng)
    return Frame(rgb=rgb, depth=depth, raw_depth=raw, labels=labels,
                 hole_reason=reason, scene=scene.name,
                 scene_type=scene.scene_type, camera=camera)


def frame_scene(seed: int, index: int,
                views_per_scene: int = 1) -> IndoorScene:
    """The room of frame ``index`` of the synthetic set ``seed`` (cheap: no
    rendering). See :func:`render_frame`.

    Args:
        seed (int): Data set seed.
        index (int): Frame index (0-based).
        views_per_scene (int): Frames rendered per room.
    """
    if views_per_scene < 1:
        raise ValueError(f'views_per_scene must be >= 1, got '
                         f'{views_per_scene}')
    scene_idx = index // views_per_scene
    scene = random_scene(np.random.default_rng([seed, scene_idx, 0]))
    scene.name = f'{scene.scene_type}_{scene_idx + 1:04d}'
    return scene


def render_frame(seed: int,
                 index: int,
                 scale: float = 1.0,
                 views_per_scene: int = 1,
                 camera: str = 'nyu') -> Frame:
    """Render frame ``index`` of the synthetic set ``seed``.

    Frames ``index // views_per_scene`` share a room; each frame has its own
    camera. The result depends only on ``(seed, index, scale,
    views_per_scene)``.

    Args:
        seed (int): Data set seed.
        index (int): Frame index (0-based).
        scale (float): Image scale (1.0 = 480x640, NYU intrinsics scaled).
        views_per_scene (int): Frames rendered per room.
        camera (str): Camera pose preset, a key of :data:`CAMERA_PRESETS`.

    Returns:
        Frame: The frame; its scene is named ``'<type>_<NNNN>'`` with
        ``NNNN = index // views_per_scene + 1``.
    """
    scene = frame_scene(seed, index, views_per_scene)
    view_rng = np.random.default_rng(
        [seed, index // views_per_scene, 1, index])
    if camera not in CAMERA_PRESETS:
        raise ValueError(f'unknown camera preset {camera!r}; choose from '
                         f'{sorted(CAMERA_PRESETS)}')
    cam = random_camera(view_rng, scene, scale, CAMERA_PRESETS[camera])
    return render(scene, cam, view_rng)
