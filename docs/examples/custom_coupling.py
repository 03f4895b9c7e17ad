"""A new coupling layer from flowkit's Coupling base class: only its transform (run by the test suite)."""

import torch

from flowkit.core import sum_except_batch
from flowkit.layers import Coupling
from flowkit.subnets import ConvNet
from flowkit.testing import check_flow, perturb_parameters


class SigmoidAffineCoupling(Coupling):
    """Glow's affine coupling as its code computes it: y2 = (x2 + t) * sigmoid(h + 2).

    The scale lies in (0, 1), so the layer can only contract x2; it starts near 0.88, not 1.
    """

    def __init__(self, channels: int, split: int | None = None, context_channels: int = 0) -> None:
        super().__init__(channels, split, context_channels)  # checks channels, split, context_channels
        # subnet_width: the subnet's input width, counting the context's channels when they are appended
        self.net = ConvNet(self.subnet_width(self.split), 2 * (self.channels - self.split))

    def _scale_shift(self, x1, context):
        h, t = self.net(self.subnet_input(x1, context)).chunk(2, dim=1)  # the context joins the input
        return torch.sigmoid(h + 2.0), t

    def couple(self, x1, x2, context=None):
        scale, t = self._scale_shift(x1, context)
        return x1, (x2 + t) * scale, sum_except_batch(torch.log(scale))

    def uncouple(self, y1, y2, context=None):
        scale, t = self._scale_shift(y1, context)
        return y1, y2 / scale - t, -sum_except_batch(torch.log(scale))


if __name__ == "__main__":
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)  # small: the Jacobian check is dense
    check_flow(perturb_parameters(SigmoidAffineCoupling(4).double()), x)
    conditioned = perturb_parameters(SigmoidAffineCoupling(4, context_channels=3).double())
    check_flow(conditioned, x, context=torch.randn(2, 3, dtype=torch.float64))
    print("SigmoidAffineCoupling passes every flowkit check, with and without a context")
