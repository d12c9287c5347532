"""The named output of a ZoeDepth core (backbone + DPT decoder)."""
from dataclasses import dataclass
from typing import Callable, Iterator, Tuple, Union, overload

from torch import Tensor


@dataclass(eq=False)
class ZoeCoreOutput:
    """What every ZoeDepth core hands to the heads (see
    ``docs/architecture.md``).

    Whatever the backbone (MiDaS SwinV2/BEiT, a DINOv2 ViT with a
    reassemble stage, a timm CNN), :class:`~mmzoe.models.necks.ZoeDPTNeck`
    returns one of these; heads read the fields they need by name. Sizes
    below are for an ``H x W`` network input and a stride-32 pyramid.

    Attributes:
        bottleneck (Tensor): ``l4_rn``, the 3x3-projected coarsest backbone
            map, (B, C, H/32, W/32). The metric head's seed bins start here.
        decoder (tuple[Tensor, Tensor, Tensor, Tensor]): The DPT fusion
            outputs ``(r4, r3, r2, r1)``, coarse to fine: (B, C, H/16, W/16),
            (B, C, H/8, W/8), (B, C, H/4, W/4) and (B, C, H/2, W/2).
        out_conv (Tensor): The relative head's last hidden feature,
            (B, 32, H, W) with MiDaS' width (``N_MIDAS_OUT``).
        rel_depth (Tensor): MiDaS relative inverse depth, (B, 1, H, W)
            (unitless, larger = nearer). Computed once per forward; the
            metric head, the estimator's ``pred_rel_depth`` and the panels
            all use this tensor.

    For heads written for mmseg's ``in_index`` (e.g. an mmseg auxiliary
    head with ``input_transform='multiple_select'``), the object also reads
    as the sequence :meth:`pyramid`: ``out[0]`` is ``bottleneck``,
    ``out[1:]`` the decoder maps.
    """

    bottleneck: Tensor
    decoder: Tuple[Tensor, Tensor, Tensor, Tensor]
    out_conv: Tensor
    rel_depth: Tensor

    def __post_init__(self) -> None:
        self.decoder = tuple(self.decoder)
        if len(self.decoder) != 4:
            raise ValueError('ZoeCoreOutput.decoder needs the four DPT '
                             f'fusion maps (r4, r3, r2, r1), got '
                             f'{len(self.decoder)}.')

    def pyramid(self) -> Tuple[Tensor, ...]:
        """The multi-scale features, coarse to fine: ``(bottleneck, r4, r3,
        r2, r1)`` (strides 32, 16, 8, 4, 2) for U-Net/mmseg-style heads."""
        return (self.bottleneck, ) + self.decoder

    def apply(self, fn: Callable[[Tensor], Tensor]) -> 'ZoeCoreOutput':
        """A new output with ``fn`` applied to every tensor."""
        return ZoeCoreOutput(
            bottleneck=fn(self.bottleneck),
            decoder=tuple(fn(x) for x in self.decoder),
            out_conv=fn(self.out_conv),
            rel_depth=fn(self.rel_depth))

    # Sequence view of the pyramid (mmseg's ``in_index`` selection).
    def __len__(self) -> int:
        return 1 + len(self.decoder)

    @overload
    def __getitem__(self, index: int) -> Tensor:
        ...

    @overload
    def __getitem__(self, index: slice) -> Tuple[Tensor, ...]:
        ...

    def __getitem__(self, index: Union[int, slice]
                    ) -> Union[Tensor, Tuple[Tensor, ...]]:
        return self.pyramid()[index]

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.pyramid())
