"""No code from a checkpoint file, local or remote (issue 14, rows 1 and 13).

A pickle whose payload writes a marker file is served over HTTP by a local
``http.server`` (127.0.0.1, a free port, stopped at the end) and given to
every route through which MMEngine reads a checkpoint: each must refuse it
with one clear line and never write the marker.
"""
import http.server
import io
import os.path as osp
import sys
import threading

import numpy as np
import pytest
import torch

from zoe_testing import CONFIG, data_options, run


class _Payload:
    """Unpickling this runs ``exec``: it writes ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        code = f'open({self.marker!r}, "w").write("payload ran")'
        return (exec, (code, ))


class _Quiet(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """(url of a malicious checkpoint, marker path, env for subprocesses)."""
    marker = str(tmp_path / 'PAYLOAD_RAN')
    site = tmp_path / 'site'
    site.mkdir()
    torch.save({'state_dict': {}, 'meta': {}, 'x': _Payload(marker)},
               str(site / 'evil.pth'))
    handler = lambda *a, **k: _Quiet(*a, directory=str(site), **k)  # noqa
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever,
                              kwargs=dict(poll_interval=0.1), daemon=True)
    thread.start()
    hub = str(tmp_path / 'torch_home')
    monkeypatch.setenv('TORCH_HOME', hub)  # downloads land in tmp_path
    try:
        yield (f'http://127.0.0.1:{server.server_address[1]}/evil.pth',
               marker)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def _assert_refused(proc, marker):
    assert not osp.exists(marker), 'the payload ran'
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert 'not a weights-only checkpoint' in lines[-1], lines[-3:]
    assert 'evil.pth' in lines[-1]


def test_test_tool_refuses_url_payload(served, tiny_nyu, tmp_path):
    url, marker = served
    proc = run([sys.executable, 'tools/test.py', CONFIG, url, '--work-dir',
                str(tmp_path / 'w')] + data_options(tiny_nyu), timeout=300)
    _assert_refused(proc, marker)


def test_train_resume_and_load_from_refuse_url_payload(served,  # noqa
                                                       tiny_nyu, tmp_path):
    url, marker = served
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                str(tmp_path / 'r'), '--resume', url] +
               data_options(tiny_nyu), timeout=300)
    _assert_refused(proc, marker)
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                str(tmp_path / 'l')] + data_options(tiny_nyu) +
               [f'load_from={url}'], timeout=300)
    _assert_refused(proc, marker)


def _refused(call, marker) -> None:
    """``call()`` must raise the one-line refusal and not run the payload."""
    try:
        call()
        error = None
    except Exception as e:  # noqa: B902  (checked below)
        error = e
    assert not osp.exists(marker), 'the payload ran'
    assert error is not None, 'the checkpoint was loaded'
    assert type(error).__name__ == 'UnsafeCheckpointError', repr(error)
    assert 'not a weights-only checkpoint' in str(error)
    assert '\n' not in str(error)


def test_every_mmengine_route_refuses_url_payload(served):
    """In-process: CheckpointLoader's http scheme, MMEngine's own
    load_from_http / load_checkpoint, and a backbone init_cfg Pretrained."""
    import mmengine.runner.checkpoint as mc

    import mmzoe  # noqa: F401
    from mmzoe.registry import MODELS
    url, marker = served
    _refused(lambda: mc.CheckpointLoader.load_checkpoint(url), marker)
    _refused(lambda: mc._load_checkpoint(url, map_location='cpu'), marker)
    _refused(lambda: mc.load_from_http(url), marker)
    _refused(lambda: mc.load_checkpoint(torch.nn.Linear(1, 1), url), marker)
    backbone = MODELS.build(
        dict(type='ZoeSwinV2', arch='swinv2_tiny_window8_256', img_size=64,
             embed_dim=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
             window_size=4, pretrained_window_sizes=(0, 0, 0, 0),
             out_indices=(0, 1, 2, 3),
             init_cfg=dict(type='Pretrained', checkpoint=url)))
    _refused(backbone.init_weights, marker)


def test_every_scheme_has_a_weights_only_loader():
    """No loader of MMEngine's own is left in CheckpointLoader."""
    import mmengine.runner.checkpoint as mc

    import mmzoe  # noqa: F401
    from mmzoe.utils import checkpoint as ours
    for prefix, loader in mc.CheckpointLoader._schemes.items():
        assert loader.__module__ == ours.__name__, (prefix, loader)
    assert mc.load_url is ours.load_url_weights_only


def test_local_payload_and_truncated_file_give_one_line(tmp_path):
    import mmengine.runner.checkpoint as mc

    import mmzoe  # noqa: F401
    marker = str(tmp_path / 'PAYLOAD_RAN')
    torch.save({'x': _Payload(marker)}, str(tmp_path / 'evil.pth'))
    _refused(lambda: mc._load_checkpoint(str(tmp_path / 'evil.pth')), marker)
    (tmp_path / 'empty.pth').write_bytes(b'')
    good = io.BytesIO()
    torch.save({'w': torch.ones(1000)}, good)
    (tmp_path / 'cut.pth').write_bytes(good.getvalue()[:1000])
    for name in ('empty.pth', 'cut.pth'):
        with pytest.raises(Exception) as info:
            mc._load_checkpoint(str(tmp_path / name))
        assert type(info.value).__name__ == 'CheckpointReadError'
        assert name in str(info.value) and 'truncated' in str(info.value)


class _ObjectDtype:
    """Pickles as ``numpy.dtype('O8', False, True)`` (no setstate)."""

    def __reduce__(self):
        return (np.dtype, ('O8', False, True))


def test_object_dtype_is_refused_after_import(tmp_path):
    """Row 13: plain torch refuses it; so must torch after import mmzoe."""
    import mmzoe  # noqa: F401
    path = str(tmp_path / 'o8.pth')
    torch.save({'d': _ObjectDtype()}, path)
    with pytest.raises(Exception, match=r"numpy.dtype\('O8'\)"):
        torch.load(path, weights_only=True)
    for bad in ('U8', 'V8', 'c16', 'M8[s]'):
        with pytest.raises(Exception, match='numpy.dtype'):
            from mmzoe.utils.checkpoint import _numeric_numpy_dtype
            _numeric_numpy_dtype(bad)
    # what MMEngine's logs need still loads
    torch.save({'a': np.arange(3, dtype=np.float32), 's': np.float64(1.5),
                'i': np.int64(2), 'b': np.bool_(True)}, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['a'].dtype == np.float32 and loaded['s'] == 1.5
