"""One-line error reporting for the command-line tools (``tools/*.py``).

Bad user input (a missing config or checkpoint file, a config that does not
load, an unknown registered type, a misspelled or missing argument of a
registered class, a checkpoint that does not fit the model, an evaluation set
without any valid pixel) ends a tool with one clear line on stderr and exit
code 2, not a traceback. A run that fails on its own numbers (a diverged
training, a NaN prediction) ends with one line and exit code 1. Set
``MMZOE_TRACEBACK=1`` to see the traceback anyway.
"""
import os
import re
import sys
from types import TracebackType
from typing import Callable, Optional, Tuple

# MMEngine's build_from_cfg: "<type> is not in the <scope>::<name> registry."
# Registry names may contain spaces ("parameter scheduler").
_REGISTRY_MISS = re.compile(r'^`?(.+?)`? is not in the (.+?) registry\.')
_MISSING_TYPE = '`cfg` or `default_args` must contain the key "type"'
# Python's messages for a call with wrong keyword arguments.
_UNEXPECTED_ARG = re.compile(r"got an unexpected keyword argument '(\w+)'")
_MISSING_ARGS = re.compile(r'missing \d+ required (?:positional|keyword-only)'
                           r' arguments?: (.+)$')

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


class ToolInputError(Exception):
    """Bad input to a tool; the message is shown as one line (exit 2)."""


class NonFiniteError(RuntimeError):
    """A prediction, loss or gradient is NaN or infinite.

    Raised for a diverged training run and for a NaN prediction at test or
    inference time; the tools show the message as one line (exit 1).

    Args:
        detail (str): What is not finite (and what to do).
        name (str, optional): The image (or run) it is about; the message is
            ``'<name>: <detail>'``.
        index (int, optional): Position of the offending image in the batch
            or list it came from, if it is an image.
    """

    def __init__(self,
                 detail: str,
                 name: Optional[str] = None,
                 index: Optional[int] = None) -> None:
        super().__init__(f'{name}: {detail}' if name else detail)
        self.detail = detail
        self.name = name
        self.index = index


def load_tool_config(path: str, cfg_options: Optional[dict] = None):
    """Load a config file and merge ``--cfg-options`` into it.

    Any failure to parse or evaluate the file (a syntax error, an undefined
    name, a missing ``_base_`` file) or to merge the options becomes a
    :class:`ToolInputError` naming the file.

    Args:
        path (str): The config file (checked to exist).
        cfg_options (dict, optional): Parsed ``--cfg-options``.

    Returns:
        mmengine.config.Config: The config.
    """
    from mmengine.config import Config
    check_file(path, 'config file')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:
        raise ToolInputError(f'{path}: cannot load the config: '
                             f'{_one_line(err)}') from err
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except Exception as err:
            raise ToolInputError(
                f'--cfg-options cannot be merged into {path}: '
                f'{_one_line(err)}') from err
    return cfg


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args \
        else str(err)
    text = ' '.join(text.split())
    return f'{type(err).__name__}: {text}' if text else type(err).__name__


def is_local_path(path: str) -> bool:
    """Whether ``path`` names a local file (not a URL or backend prefix).

    Args:
        path (str): A file path or URI.
    """
    return '://' not in path or path.startswith('file://')


def check_file(path: Optional[str], what: str) -> None:
    """Raise :class:`ToolInputError` if a local file does not exist.

    Args:
        path (str, optional): The file. ``None`` and URLs are not checked.
        what (str): What the file is, for the message (``'config file'``).
    """
    if path is None or not is_local_path(path):
        return
    local = path[len('file://'):] if path.startswith('file://') else path
    if not os.path.isfile(local):
        raise ToolInputError(f'{what} not found: {path}')


def format_registry_error(message: str) -> Optional[str]:
    """One-line message for MMEngine's "not in the registry" KeyError.

    Args:
        message (str): The KeyError's message.

    Returns:
        str or None: The line, or None if it is not a registry miss.
    """
    if message.startswith(_MISSING_TYPE):
        return ('a config entry that is built from a registry has no "type" '
                'key: ' + ' '.join(message.split())[:300])
    found = _REGISTRY_MISS.search(message)
    if found is None:
        return None
    name, registry = found.groups()
    scope = registry.split('::')[0] if '::' in registry else None
    where = f'registry "{registry}"'
    if scope:
        where += (f' (scope "{scope}" and its parent scopes, e.g. mmseg '
                  'and mmengine)')
    return (f'unknown type "{name}": it is not registered in the {where}; '
            'check the spelling, or add the module that registers it to '
            'custom_imports')


def _innermost_build(tb: Optional[TracebackType]) -> Optional[dict]:
    """Locals of the innermost MMEngine ``build_from_cfg`` frame of ``tb``."""
    from mmengine.registry import build_functions
    code = build_functions.build_from_cfg.__code__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            found = tb.tb_frame.f_locals
        tb = tb.tb_next
    return found


def format_build_error(err: BaseException) -> Optional[str]:
    """One-line message for a registered class that rejects its config.

    A ``TypeError`` about an unexpected keyword argument that the config
    gave (a misspelled argument) or a missing required argument, and a
    ``ValueError`` raised while the class is constructed (its own check of
    an argument) are reported with the class name; anything else is not
    (it may be a bug, and its traceback matters).

    Args:
        err (BaseException): The exception.

    Returns:
        str or None: The line, or None if it is not such an error.
    """
    if not isinstance(err, (TypeError, ValueError)):
        return None
    frame = _innermost_build(err.__traceback__)
    if frame is None or 'obj_cls' not in frame:
        return None
    obj_cls, args = frame['obj_cls'], frame.get('args') or {}
    name = getattr(obj_cls, '__name__', str(obj_cls))
    text = ' '.join(str(err).split())
    if isinstance(err, TypeError):
        unexpected = _UNEXPECTED_ARG.search(text)
        if unexpected and unexpected.group(1) in args:
            return (f'{name} has no argument "{unexpected.group(1)}" (a '
                    f'misspelled key in its config dict?): {text}')
        if _MISSING_ARGS.search(text):
            return f'{name}: missing argument in its config dict: {text}'
        return None
    return f'cannot build {name} from the config: {text}'


def describe_error(err: BaseException) -> Optional[Tuple[str, int]]:
    """The one line and exit code for an error a tool reports itself.

    Args:
        err (BaseException): The exception.

    Returns:
        tuple or None: ``(line, exit_code)``, or None to let it propagate.
    """
    if isinstance(err, ToolInputError):
        return str(err), EXIT_BAD_INPUT
    if isinstance(err, NonFiniteError):
        return str(err), EXIT_RUN_FAILED
    if isinstance(err, FileNotFoundError):
        line = f'file not found: {err.filename}' if err.filename else str(err)
        return line, EXIT_BAD_INPUT
    if isinstance(err, KeyError):
        line = format_registry_error(str(err.args[0]) if err.args else '')
        return None if line is None else (line, EXIT_BAD_INPUT)
    line = format_build_error(err)
    return None if line is None else (line, EXIT_BAD_INPUT)


def run_tool(main: Callable[[], None], prog: str) -> None:
    """Run a tool's ``main`` and turn the errors it names into one line.

    See :func:`describe_error` for which errors and exit codes.

    Args:
        main (Callable): The tool's main function.
        prog (str): Program name shown before the message.
    """
    if os.environ.get('MMZOE_TRACEBACK'):
        main()
        return
    try:
        main()
    except Exception as err:
        described = describe_error(err)
        if described is None:
            raise
    else:
        return
    # Exit outside the except block: the SystemExit then does not keep the
    # error's traceback (and the runner in its frames) alive at exit.
    line, code = described
    print(f'{prog}: error: {line}', file=sys.stderr, flush=True)
    sys.exit(code)
