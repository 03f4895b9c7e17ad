"""Write your own invertible layer and test it with flowkit.testing (run by the test suite)."""

import torch
from torch import nn

from flowkit.core import Flow, check_input, sum_except_batch
from flowkit.testing import check_flow, perturb_parameters


class ChannelAffine(Flow):
    """y = x * exp(s) + t with one learnable (s, t) per channel; log|det J| = H W sum(s)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.s = nn.Parameter(torch.zeros(channels))
        self.t = nn.Parameter(torch.zeros(channels))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def _params(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        s = self.s.view(shape).expand_as(x)
        return s, self.t.view(shape)

    def forward(self, x):
        check_input(self, x, channels=self.channels)
        s, t = self._params(x)
        return x * torch.exp(s) + t, sum_except_batch(s)

    def inverse(self, y):
        check_input(self, y, channels=self.channels)
        s, t = self._params(y)
        return (y - t) * torch.exp(-s), -sum_except_batch(s)


if __name__ == "__main__":
    layer = perturb_parameters(ChannelAffine(3).double())  # leave the identity init
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)  # small: the Jacobian check is dense
    check_flow(layer, x)  # raises FlowCheckError on any defect
    print("ChannelAffine passes every flowkit check")
