"""``tools/train.py`` with one slow checkpoint write, for kill tests.

Usage::

    python tests/test_engine/slow_write_train.py REGEX COUNT SIGNAL_FILE -- TRAIN_ARGS...

The ``COUNT``-th file written through MMEngine's ``LocalBackend.put`` whose
base name matches ``REGEX`` is written half, flushed, and then the process
sleeps after writing its path to ``SIGNAL_FILE``: the test kills it there,
in the middle of that write. The process leads a process group of its own
(its DataLoader workers join it), whose id it writes to ``SIGNAL_FILE.pid``
first thing: the test kills that group.
"""
import os
import re
import runpy
import sys
import time

from mmengine.fileio.backends import local_backend

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _write_atomic(path: str, text: str) -> None:
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


def main() -> None:
    regex, count, signal_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert sys.argv[4] == '--'
    try:
        os.setsid()  # a forked child; started with a new session already
    except PermissionError:
        pass
    _write_atomic(signal_file + '.pid', str(os.getpgid(0)))
    original_put = local_backend.LocalBackend.put
    seen = [0]

    def slow_put(self, obj, filepath) -> None:
        if re.search(regex, os.path.basename(str(filepath))):
            seen[0] += 1
            if seen[0] == count:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                _write_atomic(signal_file, str(filepath))
                time.sleep(600)
        return original_put(self, obj, filepath)

    local_backend.LocalBackend.put = slow_put
    sys.argv = [os.path.join(REPO, 'tools', 'train.py')] + sys.argv[5:]
    runpy.run_path(sys.argv[0], run_name='__main__')


if __name__ == '__main__':
    main()
