"""One-line error reporting for the command-line tools (``tools/*.py``).

Bad user input (a missing config or checkpoint file, an unknown registered
type) should end a tool with one clear line on stderr and a non-zero exit
code, not a traceback. Set ``MMZOE_TRACEBACK=1`` to see the traceback anyway.
"""
import os
import re
import sys
from typing import Callable, Optional

# MMEngine's build_from_cfg: "<type> is not in the <scope>::<name> registry."
_REGISTRY_MISS = re.compile(r'`?(\S+?)`? is not in the (\S+) registry')

EXIT_BAD_INPUT = 2


class ToolInputError(Exception):
    """Bad input to a tool; the message is shown as one line."""


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


def run_tool(main: Callable[[], None], prog: str) -> None:
    """Run a tool's ``main`` and turn bad-input exceptions into one line.

    Args:
        main (Callable): The tool's main function.
        prog (str): Program name shown before the message.
    """
    if os.environ.get('MMZOE_TRACEBACK'):
        main()
        return
    try:
        main()
    except ToolInputError as e:
        line = str(e)
    except FileNotFoundError as e:
        line = f'file not found: {e.filename}' if e.filename else str(e)
    except KeyError as e:
        text = str(e.args[0]) if e.args else ''
        line = format_registry_error(text)
        if line is None:
            raise
    else:
        return
    print(f'{prog}: error: {line}', file=sys.stderr, flush=True)
    sys.exit(EXIT_BAD_INPUT)
