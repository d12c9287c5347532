"""NYU Depth V2 label ids (1-based indices into the 894 ``names``) used by
the synthetic renderer, with the 13-class id each maps to through the
shipped 894 -> 40 -> 13 mapping (``0`` = unlabeled).

The expected 13-class ids are documentation and a test oracle; the renderer
only writes the 894 ids, exactly as the real ``labels`` array does.
"""
from typing import Dict, Tuple

#: name -> (NYU 894 label id, expected 13-class id)
NYU_LABELS: Dict[str, Tuple[int, int]] = {
    'unlabeled': (0, 0),
    'cabinet': (3, 6),
    'ceiling': (4, 3),
    'chair': (5, 4),
    'counter': (7, 6),
    'floor': (11, 5),
    'table': (19, 10),
    'wall': (21, 12),
    'box': (26, 7),
    'door': (28, 12),
    'desk': (36, 10),
    'shelves': (42, 6),
    'whiteboard': (45, 7),
    'computer': (46, 7),
    'monitor': (49, 7),
    'window': (59, 13),
    'light': (62, 7),
    'picture': (64, 8),
    'vase': (78, 7),
    'blinds': (80, 13),
    'plant': (82, 7),
    'sofa': (83, 9),
    'books': (85, 2),
    'bookshelf': (88, 6),
    'curtain': (89, 13),
    'pillow': (119, 7),
    'rug': (130, 7),
    'floor mat': (143, 5),
    'lamp': (144, 7),
    'bed': (157, 1),
    'night stand': (158, 6),
    'dresser': (169, 6),
    'television': (172, 11),
    'radiator': (236, 6),
    'blanket': (312, 7),
}


def nyu_id(name: str) -> int:
    """NYU 894 label id of ``name`` (a key of :data:`NYU_LABELS`)."""
    try:
        return NYU_LABELS[name][0]
    except KeyError:
        raise KeyError(f'unknown NYU label name {name!r}; known: '
                       f'{sorted(NYU_LABELS)}') from None
