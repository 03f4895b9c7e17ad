"""MATLAB-compatible bicubic resizing and BT.601 colour conversion, against independent references."""

import bicubic_pytorch
import pytest
import torch

from flowkit.image import bicubic_lr, imresize, rgb_to_gray, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb


def _smooth(h, w, dtype=torch.float64):
    yy, xx = torch.meshgrid(torch.linspace(0, 3, h, dtype=dtype), torch.linspace(0, 2, w, dtype=dtype), indexing="ij")
    return torch.stack((torch.sin(xx + yy), torch.cos(2 * xx) * 0.5 + 0.5, xx * yy / 6))[None]


@pytest.mark.parametrize("scale", [1 / 2, 1 / 4, 2, 3])
@pytest.mark.parametrize("kind", ["random", "smooth"])
@pytest.mark.parametrize("size", [(17, 23), (31, 19), (48, 33)])
def test_imresize_matches_independent_matlab_port(scale, kind, size):
    """Reference: bicubic-pytorch (sanghyun-son's MATLAB-equivalent imresize, an independent
    implementation; it computes some weights in float32, hence the 1e-5 tolerance)."""
    torch.manual_seed(1)
    x = torch.rand(2, 3, *size, dtype=torch.float64) if kind == "random" else _smooth(*size)
    ours = imresize(x, scale)
    ref = bicubic_pytorch.imresize(x, scale=scale)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)


def test_imresize_output_size_follows_matlab_ceil():
    x = torch.rand(1, 1, 17, 23, dtype=torch.float64)
    assert imresize(x, 0.5).shape[-2:] == (9, 12)
    assert imresize(x, 0.25).shape[-2:] == (5, 6)
    assert imresize(x, 3).shape[-2:] == (51, 69)
    assert imresize(x, size=(8, 40)).shape[-2:] == (8, 40)


def test_imresize_preserves_constants_and_reproduces_linear_ramps_inside():
    const = torch.full((1, 3, 13, 11), 0.37, dtype=torch.float64)
    for s in (0.5, 0.25, 2, 3):
        torch.testing.assert_close(imresize(const, s), torch.full_like(imresize(const, s), 0.37))
    # cubic convolution reproduces linear functions exactly away from the symmetric boundary
    x = torch.arange(40, dtype=torch.float64).view(1, 1, 1, 40).expand(1, 1, 8, 40)
    up = imresize(x, 2)
    u = (torch.arange(1, 81, dtype=torch.float64) / 2 + 0.25) - 1  # 0-based input coordinate
    torch.testing.assert_close(up[0, 0, 4, 4:-4], u[4:-4], rtol=0, atol=1e-12)


def test_imresize_no_clamping_and_dtypes():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 3:5, 3:5] = 1
    up = imresize(x, 3)
    assert up.min() < 0 and up.max() > 1  # cubic overshoot is kept, as in MATLAB (no clamp)
    assert up.dtype == torch.float32
    assert imresize(torch.rand(3, 8, 8), 0.5).shape == (3, 4, 4)


def test_bicubic_lr_is_the_clamped_8bit_imresize_and_every_consumers_lr(tmp_path):
    from flowkit.image import EvalSet, save_png
    from flowkit.models import build

    x = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    x[..., 6:10, 6:10] = 1  # a bright square: bicubic's overshoot leaves [0, 1] around it
    raw = imresize(x, 0.25)
    assert raw.min() < 0  # so the clamp has work to do
    lr = bicubic_lr(x, 4)
    assert lr.shape == (1, 3, 4, 4) and lr.dtype == torch.float64
    torch.testing.assert_close(lr, (raw.clamp(0, 1) * 255).round() / 255, rtol=0, atol=0)
    assert bicubic_lr(torch.full((3, 8, 8), 0.2), 2).unique().tolist() == [pytest.approx(51 / 255)]  # (3, H, W) too
    # one rule for the LR reference: Bicubic's downscale and an evaluation set's LR are this LR
    hr = torch.rand(1, 3, 12, 20)
    assert torch.equal(build("bicubic", 2).downscale(hr), bicubic_lr(hr, 2))
    save_png(tmp_path / "a.png", hr[0])
    item = EvalSet(tmp_path, 4).load(tmp_path / "a.png")
    assert torch.equal(item.lr, bicubic_lr(item.hr, 4))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: imresize(torch.rand(4, 4), 0.5), r"expected a \(B, C, H, W\) or \(C, H, W\) tensor"),
        (lambda: imresize(torch.ones(1, 1, 4, 4, dtype=torch.uint8), 0.5), "floating-point"),
        (lambda: imresize(torch.rand(1, 1, 4, 4), 0), "scale must be a positive number"),
        (lambda: imresize(torch.rand(1, 1, 4, 4)), "exactly one of scale and size"),
    ],
)
def test_imresize_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_ycbcr_reference_values():
    """BT.601 studio range (MATLAB rgb2ycbcr): white -> (235, 128, 128), black -> (16, 128, 128)."""
    rgb = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    ycc = rgb_to_ycbcr(rgb.view(3, 1, 4)).view(3, 4) * 255
    expected = torch.tensor(
        [
            [235.0, 16.0, 16 + 65.481, 16 + 128.553],
            [128.0, 128.0, 128 - 37.797, 128 - 74.203],
            [128.0, 128.0, 240.0, 128 - 93.786],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(ycc, expected)
    torch.testing.assert_close(rgb_to_y(rgb.view(3, 1, 4)).view(4) * 255, expected[0])


def test_ycbcr_to_rgb_matches_basicsr_constants_and_round_trips():
    """Reference: BasicSR's ycbcr2rgb (MATLAB's inverse, rounded to 8 decimals):
    rgb = ycc255 @ M * 255 + offset."""
    m = torch.tensor(
        [[0.00456621, 0.00456621, 0.00456621], [0, -0.00153632, 0.00791071], [0.00625893, -0.00318811, 0]],
        dtype=torch.float64,
    )
    offset = torch.tensor([-222.921, 135.576, -276.836], dtype=torch.float64)
    ycc = torch.rand(3, 5, 7, dtype=torch.float64)
    ref = (torch.einsum("chw,cd->dhw", ycc * 255, m) * 255 + offset[:, None, None]) / 255
    ours = ycbcr_to_rgb(ycc)
    torch.testing.assert_close(ours, ref, rtol=0, atol=2e-4)
    rgb = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, rtol=0, atol=1e-12)


def test_gray_is_matlab_rgb2gray():
    rgb = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).view(3, 1, 1)
    assert rgb_to_gray(rgb).item() == pytest.approx(0.298936021293775)
    with pytest.raises(ValueError, match="3 colour channels"):
        rgb_to_y(torch.rand(1, 4, 4))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 1)])
def test_imresize_tiny_images(size):
    """Kernels wider than the image wrap through the symmetric extension (MATLAB's mirror indexing)."""
    const = torch.full((1, 3, *size), 0.8, dtype=torch.float64)
    for s in (0.25, 0.5, 2, 4):
        out = imresize(const, s)
        assert out.shape[-2:] == tuple(max(1, -(-n * s // 1)) for n in size)
        torch.testing.assert_close(out, torch.full_like(out, 0.8))


def test_imresize_made_first_in_inference_mode_still_trains():
    # the resize weights are made once per shape and kept: ones first asked for in inference
    # mode must still serve a resize that autograd records
    x = torch.rand(1, 3, 19, 23)
    with torch.inference_mode():
        expected = imresize(x, 0.5)
    x.requires_grad_(True)
    out = imresize(x, 0.5)
    torch.testing.assert_close(out.detach(), expected)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_colour_maps_made_first_in_inference_mode_still_train():
    # like imresize, the colour maps' constants are made once per device and dtype
    x = torch.rand(1, 3, 5, 6)
    with torch.inference_mode():
        expected = [f(x) for f in (rgb_to_ycbcr, rgb_to_y, ycbcr_to_rgb)]
    x.requires_grad_(True)
    outs = [f(x) for f in (rgb_to_ycbcr, rgb_to_y, ycbcr_to_rgb)]
    for out, want in zip(outs, expected, strict=True):
        torch.testing.assert_close(out.detach(), want)
    sum(o.sum() for o in outs).backward()
    assert x.grad is not None and x.grad.shape == x.shape


def _compiled_without_warnings(fn, x, monkeypatch):
    """``fn(x)`` through ``torch.compile(fullgraph=True)``, any warning raised as an error."""
    import warnings

    monkeypatch.setattr(torch._dynamo.utils, "warn_once_cache", set())  # dynamo warns once per process
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return torch.compile(fn, fullgraph=True, backend="eager")(x)


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 3, 33, 17), {"scale": 1 / 4}),
        ((1, 3, 9, 10), {"scale": 4.0}),
        ((3, 17, 20), {"size": (7, 31)}),
        ((1, 1, 40, 40), {"scale": 1 / 4, "antialias": False}),
        ((1, 3, 50, 30), {"scale": 1 / 3}),
    ],
)
def test_imresize_compiles_to_one_graph_with_the_eager_pixels(shape, kwargs, monkeypatch):
    """Under torch.compile the weight table is traced instead of read from the cache: no graph
    break (``fullgraph``), no warning, and the same values bit for bit (the untrimmed taps add
    exact zeros)."""
    torch.manual_seed(0)
    x = torch.rand(*shape)
    compiled = _compiled_without_warnings(lambda t: imresize(t, **kwargs), x, monkeypatch)
    assert torch.equal(compiled, imresize(x, **kwargs))


@pytest.mark.parametrize("convert", [rgb_to_ycbcr, rgb_to_y, ycbcr_to_rgb])
def test_colour_maps_compile_without_warnings_to_the_eager_values(convert, monkeypatch):
    x = torch.rand(2, 3, 5, 6)
    torch.testing.assert_close(_compiled_without_warnings(convert, x, monkeypatch), convert(x), rtol=0, atol=0)
