"""ZoeDepth metric depth estimator (MiDaS core + metric bins head)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import DepthEstimator
from mmseg.structures import SegDataSample
from torch import Tensor

from mmzoe.registry import MODELS
from mmzoe.utils.tool_errors import NonFiniteError
from ..utils.ckpt_convert import (CheckpointConversionError,
                                  check_against_model_keys,
                                  load_state_dict_file)
from ..utils.core_output import ZoeCoreOutput

_CORE_PREFIXES = ('backbone.', 'neck.')
_TEST_MODES = ('whole', )


@MODELS.register_module()
class ZoeDepthEstimator(DepthEstimator):
    """ZoeDepth as an mmseg ``DepthEstimator``.

    The core (backbone + ``ZoeDPTNeck``) returns a
    :class:`~mmzoe.models.utils.ZoeCoreOutput`; the decode head
    (``ZoeDepthHead``) turns it into metric depth at the network resolution;
    an optional auxiliary head (e.g. ``ZoeUNetSegHead``) is trained on the
    same features and is skipped at inference. The relative depth is the
    core output's ``rel_depth`` of the same forward pass.

    ``loss`` gives the ``decode.*`` and ``aux.*`` losses (inherited).
    ``predict`` runs whole-image inference, optionally averaged with the
    horizontally flipped input at the network resolution
    (``0.5 * (f(x) + flip(f(flip(x))))``), resizes bilinearly
    (``align_corners=True``) to each sample's ``ori_shape``, clamps to the
    head's ``[min_depth, max_depth]`` and writes ``pred_depth_map``
    (1×H×W, metres). The prediction stays in the frame of the input image (a
    pipeline flip is not undone: the GT was flipped with it). A NaN or
    infinite predicted value raises
    :class:`~mmzoe.utils.tool_errors.NonFiniteError` naming the image.

    ``test_cfg`` keys: ``mode`` (only ``'whole'``), ``flip`` (bool, default
    False), ``aux_seg`` (bool, default False: also run the auxiliary head and
    write ``pred_sem_seg``, the argmax at ``ori_shape``, for mmseg's
    ``IoUMetric``), ``rel_depth`` (bool, default False: also write
    ``pred_rel_depth``, the MiDaS relative inverse depth at ``ori_shape``).

    Args:
        backbone (dict): Backbone config (``ZoeSwinV2``).
        decode_head (dict): Metric head config (``ZoeDepthHead``).
        neck (dict): Neck config (``ZoeDPTNeck``).
        auxiliary_head (dict, optional): Training-only auxiliary head.
        train_cfg (dict, optional): Training config.
        test_cfg (dict, optional): See above. Defaults to
            ``dict(mode='whole')``.
        data_preprocessor (dict, optional): ``ZoeDepthDataPreProcessor``
            config.
        core_checkpoint (str, optional): Converted MiDaS core file
            (``backbone.*``/``neck.*`` keys, from
            ``tools/model_converters/midas_to_mmzoe.py``) loaded strictly in
            :meth:`init_weights`. Defaults to None.
        pretrained (str, optional): mmseg's backbone-checkpoint argument,
            accepted because mmseg's ``init_model`` and tools set
            ``model.pretrained=None``. Only None is allowed: load MiDaS
            weights with ``core_checkpoint`` (or a backbone ``init_cfg``).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 auxiliary_head: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 core_checkpoint: Optional[str] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if pretrained is not None:
            raise ValueError(
                f'ZoeDepthEstimator: pretrained={pretrained!r} is not '
                'supported; set core_checkpoint= (a converted MiDaS core, '
                'tools/model_converters/midas_to_mmzoe.py) or '
                "backbone.init_cfg=dict(type='Pretrained', checkpoint=...)")
        test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        test_cfg.setdefault('mode', 'whole')
        self._check_test_cfg(test_cfg)
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.core_checkpoint = core_checkpoint
        if test_cfg.get('aux_seg', False) and not self.with_auxiliary_head:
            raise ValueError('test_cfg.aux_seg=True needs an auxiliary_head.')

    @staticmethod
    def _check_test_cfg(test_cfg: ConfigDict) -> None:
        mode = test_cfg.get('mode', 'whole')
        if mode not in _TEST_MODES:
            raise ValueError(
                f'ZoeDepthEstimator supports test_cfg.mode in {_TEST_MODES} '
                f'(the SwinV2 core sees the whole image resized to the '
                f'network size), got "{mode}". Use '
                "test_cfg=dict(mode='whole', flip=True) for flip averaging.")

    # ------------------------------------------------------------------ init
    def init_weights(self) -> None:
        """Initialise, then load ``core_checkpoint`` (if set) strictly."""
        super().init_weights()
        if self.core_checkpoint is not None:
            self.load_core_checkpoint(self.core_checkpoint)

    def load_core_checkpoint(self, path: str) -> None:
        """Load converted MiDaS core weights (``backbone.*``/``neck.*``).

        Args:
            path (str): File written by
                ``tools/model_converters/midas_to_mmzoe.py``.

        Raises:
            FileNotFoundError: If ``path`` does not exist (with the command
                that makes one).
            CheckpointConversionError: If keys are missing, unexpected or of
                the wrong shape (all listed by name).
        """
        how = ('Convert the MiDaS checkpoint first: python '
               'tools/model_converters/midas_to_mmzoe.py '
               'dpt_swin2_base_384.pt DST.pth')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'core_checkpoint not found: {path}. {how}')
        state_dict = load_state_dict_file(path)
        if any(k.startswith(('pretrained.model.', 'scratch.'))
               for k in state_dict):
            raise CheckpointConversionError(
                f'{path} is an unconverted MiDaS checkpoint. {how}')
        target = {
            k: v
            for k, v in self.state_dict().items()
            if k.startswith(_CORE_PREFIXES)
        }
        check_against_model_keys(
            state_dict, target, source=f'core_checkpoint {path}')
        self.load_state_dict(state_dict, strict=False)
        print_log(
            f'Loaded MiDaS core weights ({len(state_dict)} tensors) from '
            f'{path}',
            logger='current')

    # ------------------------------------------------------------ inference
    def _depths(self, inputs: Tensor,
                with_rel: bool = False,
                with_aux: bool = False) -> Dict[str, Tensor]:
        """Network-resolution outputs of one forward pass."""
        x = self.extract_feat(inputs)
        out = dict(depth=self.decode_head(x))
        if with_rel:
            if not isinstance(x, ZoeCoreOutput):
                raise RuntimeError(
                    'Relative depth needs a core returning ZoeCoreOutput '
                    f'(ZoeDPTNeck); this one returns {type(x).__name__}.')
            out['rel_depth'] = x.rel_depth
        if with_aux:
            out['seg_logits'] = self.auxiliary_head(x)
        return out

    def forward_depths(self,
                       inputs: Tensor,
                       flip: Optional[bool] = None,
                       with_rel: bool = False,
                       with_aux: bool = False) -> Dict[str, Tensor]:
        """Metric (and optionally relative) depth at the network resolution.

        Args:
            inputs (Tensor): Preprocessed (B, 3, h, w) inputs.
            flip (bool, optional): Average with the flipped input. Defaults to
                ``test_cfg.flip``.
            with_rel (bool): Also return ``rel_depth`` (B, 1, h, w).
            with_aux (bool): Also return the auxiliary ``seg_logits``.

        Returns:
            dict[str, Tensor]: ``depth`` (B, 1, h, w) and the requested extras
            (flip-averaged as well).
        """
        if flip is None:
            flip = bool(self.test_cfg.get('flip', False))
        out = self._depths(inputs, with_rel, with_aux)
        if flip:
            out_f = self._depths(inputs.flip(-1), with_rel, with_aux)
            out = {k: 0.5 * (v + out_f[k].flip(-1)) for k, v in out.items()}
        return out

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None
                ) -> List[SegDataSample]:
        """Predict metric depth maps.

        Args:
            inputs (Tensor): Preprocessed (B, 3, h, w) inputs.
            data_samples (list[SegDataSample], optional): Samples with
                ``ori_shape`` metainfo. If None, the predictions are returned
                at the network resolution in new samples.

        Returns:
            list[SegDataSample]: With ``pred_depth_map`` (and
            ``pred_sem_seg`` / ``pred_rel_depth`` if enabled in test_cfg).
        """
        self._check_test_cfg(self.test_cfg)
        with_aux = bool(self.test_cfg.get('aux_seg', False))
        with_rel = bool(self.test_cfg.get('rel_depth', False))
        outs = self.forward_depths(
            inputs, with_rel=with_rel, with_aux=with_aux)
        return self.postprocess_result(outs, data_samples)

    def _min_max_depth(self) -> Tuple[float, float]:
        try:
            return (float(self.decode_head.min_depth),
                    float(self.decode_head.max_depth))
        except AttributeError:
            raise AttributeError(
                f'{type(self.decode_head).__name__} has no min_depth/'
                'max_depth attributes needed to clamp the prediction.'
            ) from None

    def _to_shape(self, x: Tensor, shape: Sequence[int]) -> Tensor:
        if torch.jit.is_tracing():
            # ONNX export: the sizes are traced values, int() would freeze
            # them (the resize is then always in the graph).
            return F.interpolate(
                x, size=tuple(shape[:2]), mode='bilinear',
                align_corners=True)
        shape = tuple(int(s) for s in shape[:2])
        if tuple(x.shape[-2:]) == shape:
            return x
        return F.interpolate(
            x, size=shape, mode='bilinear', align_corners=True)

    def resize_depth(self, depth: Tensor, shape: Sequence[int]) -> Tensor:
        """Metric depth (B, 1, h, w) resized to ``shape`` and clamped.

        Bilinear (``align_corners=True``) resize to the image size, then
        clamp to the head's ``[min_depth, max_depth]``: the output side of
        :meth:`postprocess_result`. In tensor operations only, so that the
        ONNX export traces it (``shape`` may be traced sizes).

        Args:
            depth (Tensor): Depth at the network resolution.
            shape (Sequence[int]): Target (H, W).

        Returns:
            Tensor: (B, 1, H, W) depth in metres.
        """
        min_depth, max_depth = self._min_max_depth()
        return self._to_shape(depth, shape).clamp(min_depth, max_depth)

    @staticmethod
    def _check_finite(depth: Tensor,
                      data_samples: Sequence[SegDataSample]) -> None:
        """Raise :class:`NonFiniteError` naming the first image whose
        predicted depth has a NaN or infinite value (a diverged or broken
        model: clamping would hide it)."""
        finite = torch.isfinite(depth.detach()).flatten(1).all(dim=1)
        if bool(finite.all()):
            return
        i = int((~finite).nonzero()[0, 0])
        bad = int((~torch.isfinite(depth[i])).sum())
        name = data_samples[i].metainfo.get('img_path') or \
            f'image {i} of the batch'
        raise NonFiniteError(
            f'the predicted depth has {bad} NaN/inf value(s) of '
            f'{depth[i].numel()}; the weights are diverged (training) or '
            'the checkpoint is broken', name=name, index=i)

    def postprocess_result(self,
                           outs: Dict[str, Tensor],
                           data_samples: Optional[List[SegDataSample]] = None
                           ) -> List[SegDataSample]:
        """Resize to ``ori_shape``, clamp and pack into data samples.

        Args:
            outs (dict[str, Tensor]): Output of :meth:`forward_depths` (a bare
                depth tensor is accepted too).
            data_samples (list[SegDataSample], optional): Input samples.

        Returns:
            list[SegDataSample]: The samples with predictions.
        """
        if isinstance(outs, Tensor):
            outs = dict(depth=outs)
        depth = outs['depth']
        batch_size = depth.shape[0]
        if data_samples is None:
            data_samples = [
                SegDataSample(metainfo=dict(ori_shape=tuple(depth.shape[-2:])))
                for _ in range(batch_size)
            ]
        self._check_finite(depth, data_samples)
        for i, sample in enumerate(data_samples):
            shape = sample.metainfo.get('ori_shape', depth.shape[-2:])
            d = self.resize_depth(depth[i:i + 1], shape)
            sample.set_data(dict(pred_depth_map=PixelData(data=d[0])))
            if 'rel_depth' in outs:
                r = self._to_shape(outs['rel_depth'][i:i + 1], shape)
                sample.set_data(dict(pred_rel_depth=PixelData(data=r[0])))
            if 'seg_logits' in outs:
                s = self._to_shape(outs['seg_logits'][i:i + 1], shape)
                sample.set_data(
                    dict(
                        seg_logits=PixelData(data=s[0]),
                        pred_sem_seg=PixelData(
                            data=s[0].argmax(dim=0, keepdim=True))))
        return data_samples
