"""The loading step at the head of mmzoe's test pipelines."""
from typing import Optional

from mmcv.transforms import BaseTransform

from mmzoe.registry import TRANSFORMS
from ..utils.image_io import read_rgb


@TRANSFORMS.register_module()
class ZoeLoadImage(BaseTransform):
    """Read ``img_path`` as HxWx3 uint8 **RGB**, unless ``img`` is present.

    mmzoe's datasets read the image themselves (from a ``.mat`` file or a
    folder), so for them this step passes the results through unchanged. It
    exists so that a test pipeline starts with a loading step, as
    MMSegmentation's clients expect: ``mmseg.apis.inference_model`` replaces
    the first step of ``cfg.test_pipeline`` by ``LoadImageFromNDArray`` for
    arrays and gives paths to it as ``img_path``, which this step reads.
    Arrays given to ``inference_model`` must be RGB (mmzoe's channel order),
    not the BGR of ``mmcv.imread``.

    Added keys (when reading): ``img``, ``img_shape``, ``ori_shape``.

    Args:
        backend_args (dict, optional): MMEngine file back-end arguments.
            Defaults to None.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        if results.get('img') is not None:
            return results
        path = results.get('img_path')
        if path is None:
            raise KeyError('ZoeLoadImage: the results have neither "img" nor '
                           '"img_path"')
        img = read_rgb(path, self.backend_args)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
