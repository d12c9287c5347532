"""Tag samples with their domain (for ZoeDepth-NK's router loss)."""
from mmcv.transforms import BaseTransform

from mmzoe.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ZoeSetDomain(BaseTransform):
    """Set ``results['domain']`` (e.g. ``'nyu'`` or ``'kitti'``).

    ZoeDepth-NK trains its router with the domain of each sample; list
    ``'domain'`` in ``PackSegInputs``' ``meta_keys`` so that it reaches the
    head as metainfo.

    Args:
        domain (str): The domain name (one of the NK head's domains).
        overwrite (bool): Replace a domain the dataset already set.
            Defaults to True.
    """

    def __init__(self, domain: str, overwrite: bool = True) -> None:
        if not isinstance(domain, str) or not domain:
            raise ValueError(f'domain must be a non-empty string, got '
                             f'{domain!r}')
        self.domain = domain
        self.overwrite = bool(overwrite)

    def transform(self, results: dict) -> dict:
        if self.overwrite or 'domain' not in results:
            results['domain'] = self.domain
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(domain={self.domain!r})'
