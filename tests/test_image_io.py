"""Image I/O on a corpus generated here: every mode people have, and every way a file can be bad."""

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from flowkit.image import EvalSet, ImageError, list_images, load, mod_crop, read_png_metadata, save_png
from tests.pngwriter import bomb_png_bytes, png_bytes

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
_yy, _xx = np.mgrid[0:32, 0:48]
SMOOTH8 = np.stack([_xx * 5, _yy * 7, (_xx + _yy) * 3], axis=2).astype(np.uint8)


def _expect(arr_hwc):
    return torch.from_numpy(arr_hwc.transpose(2, 0, 1).astype(np.float64))


def test_rgb8_png_round_trip(tmp_path):
    Image.fromarray(RGB8).save(tmp_path / "a.png")
    img = load(tmp_path / "a.png")
    assert img.shape == (3, 5, 7) and img.dtype == torch.float32
    torch.testing.assert_close(img.double() * 255, _expect(RGB8))


@pytest.mark.parametrize("fmt, tol", [("BMP", 0), ("PNG", 0), ("JPEG", 4)])
def test_formats(tmp_path, fmt, tol):
    path = tmp_path / f"a.{fmt.lower()}"
    Image.fromarray(SMOOTH8).save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    img = load(path, dtype=torch.float64) * 255
    assert img.shape == (3, 32, 48)
    assert (img - _expect(SMOOTH8)).abs().mean() <= tol


def test_jpeg_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(SMOOTH8).save(tmp_path / "r.jpg", exif=exif, quality=95)
    assert load(tmp_path / "r.jpg").shape == (3, 48, 32)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    Image.fromarray(RGB8[..., 0]).save(tmp_path / "g.png")
    img = load(tmp_path / "g.png", dtype=torch.float64)
    assert img.shape == (3, 5, 7)
    assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])
    torch.testing.assert_close(img[0] * 255, torch.from_numpy(RGB8[..., 0].astype(np.float64)))


def test_rgba_drops_alpha_with_warning(tmp_path):
    rgba = np.concatenate([RGB8, np.full((5, 7, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="alpha channel dropped"):
        img = load(tmp_path / "a.png", dtype=torch.float64)
    torch.testing.assert_close(img * 255, _expect(RGB8))


def test_palette_png(tmp_path):
    im = Image.fromarray(RGB8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    im.save(tmp_path / "p.png")
    expected = np.asarray(im.convert("RGB"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no alpha, so no warning
        img = load(tmp_path / "p.png", dtype=torch.float64)
    torch.testing.assert_close(img * 255, _expect(expected))


@pytest.mark.parametrize("planes", [1, 3, 4])
def test_16bit_png_full_precision(tmp_path, planes):
    arr = RNG.integers(0, 65536, (4, 6, planes), dtype=np.uint16)
    (tmp_path / "d.png").write_bytes(png_bytes(arr, 16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = load(tmp_path / "d.png", dtype=torch.float64)
    assert (len(caught) == 1) == (planes == 4)
    color = arr[..., :3] if planes >= 3 else np.repeat(arr, 3, axis=2)
    torch.testing.assert_close(img, _expect(color) / 65535, rtol=0, atol=1e-12)


def test_save_png_metadata_round_trip_and_8bit(tmp_path):
    img = torch.rand(3, 6, 9)
    save_png(tmp_path / "o.png", img, metadata={"flowkit.model": "fgrn", "flowkit.scale": 4})
    assert read_png_metadata(tmp_path / "o.png") == {"flowkit.model": "fgrn", "flowkit.scale": "4"}
    back = load(tmp_path / "o.png", dtype=torch.float64)
    torch.testing.assert_close(back, torch.round(img.double() * 255) / 255)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]  # no temporary file left


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_bytes(b""), "not an image file"),
        (lambda p: p.write_text("hello, I am text"), "not an image file"),
        (lambda p: p.write_bytes(png_bytes(RGB8, 8)[:60]), "cannot decode image"),
        (lambda p: p.write_bytes(bomb_png_bytes(40000, 40000)), "exceeds the limit"),
    ],
    ids=["empty", "text", "truncated", "bomb"],
)
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, make, match):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageError, match=match) as info:
        load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ImageError, match="cannot write"):
        save_png(ro / "x.png", torch.rand(3, 4, 4))


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(ImageError, match="cannot write"):
        save_png(tmp_path / "missing" / "x.png", torch.rand(3, 4, 4))


def test_mod_crop_and_eval_set(tmp_path):
    assert mod_crop(torch.zeros(3, 10, 13), 4).shape == (3, 8, 12)
    for i, (h, w) in enumerate([(10, 13), (16, 16)]):
        save_png(tmp_path / f"im{i}.png", torch.rand(3, h, w))
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in list_images(tmp_path)] == ["im0.png", "im1.png"]
    items = list(EvalSet(tmp_path, 4))
    assert [(it.name, tuple(it.hr.shape), tuple(it.lr.shape)) for it in items] == [
        ("im0", (3, 8, 12), (3, 2, 3)),
        ("im1", (3, 16, 16), (3, 4, 4)),
    ]
    assert torch.equal(items[0].lr * 255, torch.round(items[0].lr * 255))  # an 8-bit LR


def test_eval_set_errors(tmp_path):
    with pytest.raises(ImageError, match="no image files"):
        EvalSet(tmp_path, 2)
    with pytest.raises(ImageError, match="not a directory"):
        EvalSet(tmp_path / "x", 2)


def test_write_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ImageError, match="cannot write"):
        save_png(tmp_path / "file" / "x.png", torch.rand(3, 4, 4))
