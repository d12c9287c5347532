"""Run one of MMSegmentation's own tools with mmzoe imported first.

MMSegmentation 1.2.2 ships its tools in the wheel (``mmseg/.mim/tools``).
Some of them import ``mmseg.apis`` or ``mmseg.models`` before they read the
config (``misc/print_config.py``, ``analysis_tools/get_flops.py``,
``analysis_tools/visualization_cam.py``); under ``mmcv-lite`` (no compiled
mmcv ops, the pinned set-up) that import fails with ``No module named
'mmcv._ext'`` unless :mod:`mmzoe` (which installs a stand-in that raises only
when a compiled op is called) was imported first. This launcher imports
mmzoe and runs the unmodified mmseg script, with the remaining arguments.
The scripts that only import MMEngine (``train.py``, ``test.py``,
``misc/browse_dataset.py``, ``analysis_tools/benchmark.py``) run directly.

Examples::

    python tools/misc/mmseg_tool.py misc/print_config.py CONFIG --graph
    python tools/misc/mmseg_tool.py --list
"""
import os
import os.path as osp
import runpy
import sys

PROG = 'tools/misc/mmseg_tool.py'


def mmseg_tools_dir() -> str:
    """The folder of the tools shipped in the mmseg wheel."""
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip())
        sys.exit(0 if argv else 2)
    import mmzoe  # noqa: F401  (mmcv-lite stand-in, registries)
    root = mmseg_tools_dir()
    if argv[0] == '--list':
        for folder in ('', 'misc', 'analysis_tools'):
            for name in sorted(os.listdir(
                    osp.join(root, folder))):
                if name.endswith('.py'):
                    print(osp.join(folder, name))
        return
    script = osp.join(root, argv[0])
    if not osp.isfile(script):
        print(f'{PROG}: error: no mmseg tool {argv[0]!r} in {root} (see '
              '--list)', file=sys.stderr)
        sys.exit(2)
    sys.argv = [script] + argv[1:]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
