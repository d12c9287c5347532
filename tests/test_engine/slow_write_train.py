"""``tools/train.py`` with one slow checkpoint write, for kill tests.

Usage::

    python tests/test_engine/slow_write_train.py REGEX COUNT SIGNAL_FILE -- TRAIN_ARGS...

The ``COUNT``-th file written through MMEngine's ``LocalBackend.put`` whose
base name matches ``REGEX`` is written half, flushed, and then the process
sleeps after writing its path to ``SIGNAL_FILE``: the test kills it there,
in the middle of that write.
"""
import os
import re
import runpy
import sys
import time

from mmengine.fileio.backends import local_backend

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def main() -> None:
    regex, count, signal_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert sys.argv[4] == '--'
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
                with open(signal_file, 'w') as f:
                    f.write(str(filepath))
                time.sleep(600)
        return original_put(self, obj, filepath)

    local_backend.LocalBackend.put = slow_put
    sys.argv = [os.path.join(REPO, 'tools', 'train.py')] + sys.argv[5:]
    runpy.run_path(sys.argv[0], run_name='__main__')


if __name__ == '__main__':
    main()
