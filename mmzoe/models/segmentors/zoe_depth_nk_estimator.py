"""ZoeDepth-NK estimator: the routed two-domain model (ZoeD_M12_NK)."""
from typing import Dict, List, Optional

import torch
from mmseg.structures import SegDataSample
from torch import Tensor

from mmzoe.registry import MODELS
from .zoe_depth_estimator import ZoeDepthEstimator


@MODELS.register_module()
class ZoeDepthNKEstimator(ZoeDepthEstimator):
    """:class:`ZoeDepthEstimator` with a routed head (``ZoeDepthNKHead``).

    Inference also reports which metric head the router picked: each
    predicted sample gets the metainfo ``pred_domain`` (the domain name,
    e.g. ``'nyu'`` or ``'kitti'``) and ``pred_domain_probs`` (softmax of the
    router logits, one float per domain in the head's order); the depth is
    clamped to the picked domain's ``[min_depth, max_depth]``. With flip
    averaging the flipped pass goes through the heads picked on the
    unflipped image (the two depths being averaged come from one head).

    Args:
        **kwargs: :class:`ZoeDepthEstimator` arguments; ``decode_head`` must
            be a ``ZoeDepthNKHead``.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not hasattr(self.decode_head, 'router'):
            raise TypeError('ZoeDepthNKEstimator needs a routed decode head '
                            '(ZoeDepthNKHead), got '
                            f'{type(self.decode_head).__name__}')

    def _routed(self, inputs: Tensor, domains: Optional[Tensor],
                with_rel: bool, with_aux: bool) -> Dict[str, Tensor]:
        x = self.extract_feat(inputs)
        head = self.decode_head(x, domains=domains, return_extras=True)
        out = dict(depth=head['metric_depth'],
                   domain_logits=head['domain_logits'],
                   domain=head['domain'])
        if with_rel:
            out['rel_depth'] = x.rel_depth
        if with_aux:
            out['seg_logits'] = self.auxiliary_head(x)
        return out

    def forward_depths(self,
                       inputs: Tensor,
                       flip: Optional[bool] = None,
                       with_rel: bool = False,
                       with_aux: bool = False) -> Dict[str, Tensor]:
        """Routed depth at the network resolution.

        Returns:
            dict[str, Tensor]: ``depth`` (B, 1, h, w), ``domain_logits``
            (B, D), ``domain`` (B,) and the requested extras.
        """
        if flip is None:
            flip = bool(self.test_cfg.get('flip', False))
        out = self._routed(inputs, None, with_rel, with_aux)
        if flip:
            out_f = self._routed(inputs.flip(-1), out['domain'], with_rel,
                                 with_aux)
            for k in ('depth', 'rel_depth', 'seg_logits'):
                if k in out:
                    out[k] = 0.5 * (out[k] + out_f[k].flip(-1))
        return out

    def postprocess_result(self,
                           outs: Dict[str, Tensor],
                           data_samples: Optional[List[SegDataSample]] = None
                           ) -> List[SegDataSample]:
        """As :class:`ZoeDepthEstimator`, plus ``pred_domain`` metainfo and
        the per-domain clamp."""
        samples = super().postprocess_result(outs, data_samples)
        if not isinstance(outs, dict) or 'domain' not in outs:
            return samples
        head = self.decode_head
        probs = torch.softmax(outs['domain_logits'].float(), dim=-1)
        for i, sample in enumerate(samples):
            d = int(outs['domain'][i])
            conf = head.domains[d]
            sample.set_metainfo(
                dict(pred_domain=head.domain_names[d],
                     pred_domain_probs=[float(p) for p in probs[i]]))
            depth = sample.pred_depth_map.data
            sample.pred_depth_map.data = depth.clamp(
                float(conf['min_depth']), float(conf['max_depth']))
        return samples
