"""Version of mmzoe."""

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string such as ``'0.1.0'`` into a tuple of ints.

    Args:
        version_str (str): The version string.

    Returns:
        tuple: The numeric parts, e.g. ``(0, 1, 0)``; a pre-release suffix
        such as ``rc1`` is kept as a trailing string element.
    """
    parts = []
    for x in version_str.split('.'):
        if x.isdigit():
            parts.append(int(x))
        else:
            digits = ''.join(c for c in x if c.isdigit())
            rest = x[len(digits):]
            if digits:
                parts.append(int(digits))
            if rest:
                parts.append(rest)
    return tuple(parts)


version_info = parse_version_info(__version__)
