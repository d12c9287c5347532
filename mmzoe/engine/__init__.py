from .hooks import *  # noqa: F401,F403
from .loops import ZoeEpochBasedTrainLoop
from .optimizers import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403

__all__ = ['ZoeEpochBasedTrainLoop']
