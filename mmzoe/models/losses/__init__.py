from .dice_loss import ZoeMaskedDiceLoss
from .focal_loss import ZoeSoftmaxFocalLoss
from .silog_loss import ZoeSILogLoss

__all__ = ['ZoeMaskedDiceLoss', 'ZoeSoftmaxFocalLoss', 'ZoeSILogLoss']
