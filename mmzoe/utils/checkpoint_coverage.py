"""Whether a checkpoint's state dict covers a model (one rule for every
load: ``init_model``, ``tools/test.py``, ``load_from``)."""
from collections import OrderedDict
from typing import List, Mapping, Optional

import torch.nn as nn

from .tool_errors import ToolInputError

#: Key prefixes of training-only modules: they may be absent from a
#: checkpoint (``tools/publish_model.py`` strips the auxiliary segmentation
#: head) and a checkpoint may carry them for a model without them.
TRAINING_ONLY_PREFIXES = ('auxiliary_head.', )


class CheckpointMismatchError(ToolInputError, RuntimeError):
    """A checkpoint does not cover the model it is loaded into."""


def checkpoint_coverage_problems(model: nn.Module,
                                 state_dict: Mapping) -> List[str]:
    """What keeps ``state_dict`` from covering ``model``.

    Every key of ``model.state_dict()`` except those of training-only
    modules (:data:`TRAINING_ONLY_PREFIXES`) must be in the checkpoint with
    the same shape, and the checkpoint must not have other keys. A
    ``module.`` prefix (DDP) is ignored.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (Mapping): The checkpoint's state dict.

    Returns:
        list[str]: One entry per kind of problem (missing keys, unexpected
        keys, shape mismatches), empty if the checkpoint covers the model.
    """
    own = model.state_dict()
    ckpt = OrderedDict()
    for key, value in state_dict.items():
        ckpt[key[7:] if key.startswith('module.') else key] = value

    def needed(key: str) -> bool:
        return not key.startswith(TRAINING_ONLY_PREFIXES)

    missing = [k for k in own if needed(k) and k not in ckpt]
    unexpected = [k for k in ckpt if needed(k) and k not in own]
    mismatched = [
        f'{k}: checkpoint {tuple(ckpt[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in own
        if k in ckpt and hasattr(ckpt[k], 'shape')
        and tuple(ckpt[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    for title, keys in (('missing keys', missing),
                        ('unexpected keys', unexpected),
                        ('shape mismatches', mismatched)):
        if keys:
            shown = ', '.join(keys[:20])
            more = f' ... (+{len(keys) - 20} more)' if len(keys) > 20 else ''
            problems.append(f'{len(keys)} {title}: {shown}{more}')
    return problems


def check_checkpoint_covers_model(model: nn.Module,
                                  state_dict: Mapping,
                                  checkpoint: str,
                                  hint: Optional[str] = None) -> None:
    """Raise if ``state_dict`` does not cover ``model``.

    MMEngine's ``load_checkpoint(strict=False)`` only logs missing or
    mis-shaped keys; a model evaluated with part of its weights random gives
    silently wrong depth. See :func:`checkpoint_coverage_problems` for the
    rule.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (Mapping): The checkpoint's state dict.
        checkpoint (str): The checkpoint's name, for the message.
        hint (str, optional): Appended to the message (e.g. how to allow a
            partial load).

    Raises:
        CheckpointMismatchError: Listing the problems (one line).
    """
    problems = checkpoint_coverage_problems(model, state_dict)
    if problems:
        raise CheckpointMismatchError(
            f'{checkpoint}: the checkpoint does not match the model of the '
            'config (is it the right config?). ' + '; '.join(problems) +
            (f'. {hint}' if hint else ''))
