"""Fixtures shared by the whole test suite.

Plain helpers (paths, tool subprocesses, loop references) are in
``tests/zoe_testing.py``; this directory is on ``sys.path`` because this
``conftest.py`` sits in it, so test modules ``from zoe_testing import ...``.
"""
import os.path as osp
import sys

import pytest
from mmengine.logging import MessageHub, MMLogger
from mmengine.visualization import Visualizer

from zoe_testing import (RECIPE_EPOCHS, REPO, close_fork_server,
                         freeze_imported_objects, load_module, make_tiny_nyu,
                         run)


def _with_subclasses(cls):
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


@pytest.fixture(autouse=True)
def fresh_mmengine_instances():
    """Every test starts without the MMEngine loggers, message hubs and
    visualizers that earlier tests made (a user's process starts without
    them too): an in-process tool run would otherwise log to a previous
    test's closed capture stream, and a second ``Visualizer`` of a name
    already taken warns. Each ``ManagerMixin`` subclass keeps its own
    instance dict, so subclasses (mmseg's and our visualizers) are cleared
    too. Instances held by module fixtures stay usable; they are only no
    longer found by name."""
    for base in (MMLogger, MessageHub, Visualizer):
        for cls in _with_subclasses(base):
            cls._instance_dict.clear()
    yield


@pytest.fixture(scope='session')
def tiny_nyu(tmp_path_factory) -> str:
    """A folder holding ``tiny_nyu.mat``: 6 generated 48x64 NYU-layout
    frames (tests/configs/make_tiny_nyu.py), written once per session; the
    data root of tests/configs/zoe_tiny_nyu.py for the tool tests."""
    root = str(tmp_path_factory.mktemp('tiny_nyu'))
    make_tiny_nyu(osp.join(root, 'tiny_nyu.mat'), num=6, height=48, width=64)
    return root


@pytest.fixture(scope='session')
def tiny_recipe(tmp_path_factory) -> str:
    """The report's seg-distill recipe (``configs/zoe_segdistill_nyu.py``:
    quarter-epoch validation, best checkpoint by abs_rel, one-cycle
    schedule, the NYU augmentation pipeline, 2 persistent DataLoader
    workers) with the tiny seg-distill model on a tiny generated 10-frame
    ``.mat`` (8 train / 2 val frames, batch 1): RECIPE_EPOCHS epochs of 8
    iterations. Written by ``make_tiny_recipe`` of
    ``tools/analysis_tools/kill_resume_check.py``; returns the config path.
    """
    root = str(tmp_path_factory.mktemp('tiny_recipe'))
    tool = load_module('kill_resume_check', osp.join(
        REPO, 'tools', 'analysis_tools', 'kill_resume_check.py'))
    return tool.make_tiny_recipe(root, epochs=RECIPE_EPOCHS, workers=2)


@pytest.fixture(scope='session')
def tiny_recipe_run(tiny_recipe, tmp_path_factory) -> dict:
    """One uninterrupted ``tools/train.py`` run of :func:`tiny_recipe`,
    shared by the recipe end-to-end test and the kill/resume tests (which
    compare their resumed runs with it): ``work_dir`` and ``log`` (its
    stdout and stderr)."""
    work_dir = str(tmp_path_factory.mktemp('tiny_recipe_run'))
    proc = run([sys.executable, 'tools/train.py', tiny_recipe, '--work-dir',
                work_dir], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(work_dir=work_dir, log=proc.stdout + proc.stderr)


def pytest_collection_finish(session) -> None:
    """After collection (every test module, torch, MMEngine, mmseg and
    mmzoe imported): freeze those objects for the garbage collector, so
    that the explicit ``gc.collect()`` of every dataset MMEngine builds in
    this process traverses only what the tests created
    (``zoe_testing.freeze_imported_objects``)."""
    freeze_imported_objects()


@pytest.fixture(scope='session', autouse=True)
def _fork_server_stops_at_the_end():
    """The fork server of ``zoe_testing.run`` ends with the session."""
    yield
    close_fork_server()
