"""Image transforms: exact geometry on known arrays, seeded randomness, dtypes, and (with
torch installed) resize and rotation against torch's interpolate / grid_sample."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import transforms as T


def _img(c=2, h=5, w=4, dtype=np.float32):
    return (np.arange(c * h * w, dtype=dtype).reshape(c, h, w) + 1) / (c * h * w)


# -- ToTensor, Normalize, Compose ------------------------------------------------------------

def test_to_tensor_hwc_uint8():
    hwc = np.array([[[0, 255, 51], [102, 153, 204]]], dtype=np.uint8)      # H=1, W=2, C=3
    t = T.ToTensor()(hwc)
    assert isinstance(t, sn.Tensor) and t.shape == (3, 1, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t.data[:, 0, 0], [0.0, 1.0, 0.2], rtol=1e-7)
    np.testing.assert_allclose(t.data[:, 0, 1], [0.4, 0.6, 0.8], rtol=1e-7)


def test_to_tensor_grey_and_float():
    grey = T.ToTensor()(np.full((3, 2), 255, dtype=np.uint8))
    assert grey.shape == (1, 3, 2) and np.all(grey.data == 1.0)
    f = T.ToTensor()(np.full((3, 2, 1), 7.0))       # non-uint8: moved, not scaled
    assert f.shape == (1, 3, 2) and f.dtype == np.float64 and np.all(f.data == 7.0)
    with pytest.raises(TypeError, match="already converted"):
        T.ToTensor()(sn.zeros(1, 2, 2))


def test_to_tensor_accepts_pil_images():
    Image = pytest.importorskip("PIL.Image")
    hwc = np.random.default_rng(5).integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    t = T.ToTensor()(Image.fromarray(hwc, mode="RGB"))
    assert t.shape == (3, 3, 4)
    np.testing.assert_array_equal(t.data, hwc.transpose(2, 0, 1) / np.float32(255))


def test_to_tensor_matches_torch_scaling():
    torch = pytest.importorskip("torch")
    hwc = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    ref = torch.from_numpy(hwc).permute(2, 0, 1).float().div(255).numpy()
    np.testing.assert_allclose(T.ToTensor()(hwc).data, ref, rtol=1e-7, atol=0)


def test_normalize_per_channel():
    img = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0)]).astype(np.float32)
    out = T.Normalize((0.5, 0.25), (0.5, 0.25))(img)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_array_equal(out[1], 3.0)
    with pytest.raises(ValueError, match=r"2 channel\(s\).*mean has 3"):
        T.Normalize((0.1, 0.2, 0.3), (1, 1, 1))(img)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize((0.1,), (0.0,))
    x = img.copy()
    assert T.Normalize(0.5, 0.5, inplace=True)(x) is x and x[0, 0, 0] == 0.0


def test_compose_applies_in_order():
    f = T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 10)])
    assert f(np.float32(1)) == 20
    assert "Lambda" in repr(f)


# -- padding, flips, crops -------------------------------------------------------------------

def test_pad_sides_and_fill():
    img = np.ones((2, 2, 3), dtype=np.float32)
    out = T.Pad((1, 2, 3, 4), fill=(5, 6))(img)                # left, top, right, bottom
    assert out.shape == (2, 2 + 2 + 4, 3 + 1 + 3)
    np.testing.assert_array_equal(out[:, 2:4, 1:4], 1.0)
    assert out[0, 0, 0] == 5 and out[1, -1, -1] == 6
    assert T.Pad(2)(img).shape == (2, 6, 7)
    assert T.Pad((1, 2))(img).shape == (2, 6, 5)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy(mode):
    img = _img(1, 3, 4)
    out = T.Pad((2, 1), padding_mode=mode)(img)
    np.testing.assert_array_equal(out, np.pad(img, [(0, 0), (1, 1), (2, 2)], mode=mode))


def test_flips_of_a_known_array():
    img = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.float32)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img),
                                  [[[3, 2, 1], [6, 5, 4]]])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(img), [[[4, 5, 6], [1, 2, 3]]])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(img), img)


def test_flip_probability():
    flip = T.RandomHorizontalFlip(p=0.5, generator=0)
    img = np.array([[[0.0, 1.0]]])
    flipped = sum(flip(img)[0, 0, 0] == 1.0 for _ in range(2000))
    # Binomial(2000, 0.5): 6 standard deviations is +-134
    assert abs(flipped - 1000) < 134


def test_random_crop_matches_its_params():
    img = _img(2, 6, 7)
    crop = T.RandomCrop((3, 4), generator=9)
    params = [T.RandomCrop.get_params((6, 7), (3, 4), np.random.default_rng(9))
              for _ in range(1)]
    top, left, h, w = params[0]
    np.testing.assert_array_equal(crop(img), img[:, top:top + 3, left:left + 4])


def test_random_crop_with_padding_is_a_shift_of_up_to_2_pixels():
    """RandomCrop(32, padding=2) moves the content by -2..2 pixels in each direction (the
    ConvNetJS CIFAR-10 demo's augmentation in deck 002), each of the 25 shifts happening."""
    n = 8
    img = (np.arange(n * n, dtype=np.float32).reshape(1, n, n) + 1)
    crop = T.RandomCrop(n, padding=2, generator=0)
    padded = np.pad(img, [(0, 0), (2, 2), (2, 2)])
    seen = set()
    for _ in range(600):
        out = crop(img)
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(out, padded[:, 2 - dy:2 - dy + n, 2 - dx:2 - dx + n])]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_random_crop_pad_if_needed_and_errors():
    img = _img(1, 3, 3)
    out = T.RandomCrop(5, pad_if_needed=True, generator=0)(img)
    assert out.shape == (1, 5, 5)
    with pytest.raises(ValueError, match=r"crop 5x5 is larger than the \(padded\) image 3x3"):
        T.RandomCrop(5)(img)


def test_center_crop():
    img = _img(1, 5, 6)
    np.testing.assert_array_equal(T.CenterCrop((3, 2))(img), img[:, 1:4, 2:4])
    with pytest.raises(ValueError, match="smaller than the crop"):
        T.CenterCrop(7)(img)


# -- resize ----------------------------------------------------------------------------------

def test_resize_hand_example():
    # 1x2 -> 1x4 samples the input at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    img = np.array([[[2.0, 6.0]]])
    np.testing.assert_allclose(T.resize(img, (1, 4)), [[[2.0, 3.0, 5.0, 6.0]]])
    # 4 -> 2 samples at 0.5 and 2.5: the means of neighbouring pairs
    np.testing.assert_allclose(T.resize(np.array([[1.0, 3.0, 5.0, 9.0]]), (1, 2)), [[2.0, 7.0]])


@pytest.mark.parametrize("size", [(7, 3), (2, 9), (1, 1), (13, 13)])
def test_resize_of_a_constant_image_is_constant(size):
    img = np.full((3, 5, 4), 0.3, dtype=np.float32)
    out = T.Resize(size)(img)
    assert out.shape == (3,) + size and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.3, rtol=1e-6)


def test_resize_int_keeps_aspect():
    assert T.Resize(10)(np.zeros((3, 20, 40))).shape == (3, 10, 20)
    assert T.Resize(10)(np.zeros((3, 45, 30))).shape == (3, 15, 10)


@pytest.mark.parametrize("src,dst", [((5, 4), (11, 9)), ((8, 8), (32, 32)), ((9, 7), (4, 3)),
                                     ((6, 10), (6, 3))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_matches_torch_interpolate(src, dst, dtype):
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(1).random((2, 3) + src).astype(dtype)
    ref = torch.nn.functional.interpolate(torch.from_numpy(img), size=dst, mode="bilinear",
                                          align_corners=False, antialias=False).numpy()
    out = T.resize(img, dst)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)


# -- rotation --------------------------------------------------------------------------------

@pytest.mark.parametrize("angle,k", [(90, 1), (180, 2), (270, 3), (-90, -1), (360, 0)])
def test_rotation_by_quarter_turns_is_rot90(angle, k):
    img = _img(2, 6, 6)
    np.testing.assert_array_equal(T.rotate(img, angle), np.rot90(img, k, axes=(1, 2)))


def test_rotation_90_near_but_not_exactly_90_is_rot90_inside():
    # away from the exact-angle shortcut, bilinear sampling still lands on the pixel grid
    img = _img(1, 7, 7, np.float64)
    out = T.rotate(img, 90 + 1e-9)
    np.testing.assert_allclose(out, np.rot90(img, 1, axes=(1, 2)), atol=1e-9)


def test_rotation_is_counter_clockwise():
    img = np.zeros((1, 3, 3), dtype=np.float32)
    img[0, 1, 2] = 1.0                     # right of centre
    out = T.rotate(img, 90)
    assert out[0, 0, 1] == 1.0             # counter-clockwise: now above centre
    assert out.sum() == 1.0


def test_rotation_keeps_centre_and_fills_outside():
    img = np.full((1, 9, 9), 0.5, dtype=np.float32)
    img[0, 4, 4] = 0.9
    out = T.rotate(img, 45, fill=0.0)
    assert out[0, 4, 4] == pytest.approx(0.9)
    # corner (0, 0) reads row 4 - 4*sqrt(2) = -1.66: wholly outside, so fill
    assert out[0, 0, 0] == 0.0 and out[0, 8, 8] == 0.0
    # output (4, 0) reads (1.17, 1.17): four 0.5 neighbours
    assert out[0, 4, 0] == pytest.approx(0.5)
    # output (4, 5) reads (4.707, 4.707): the centre pixel weighs (1 - 0.707)^2
    assert out[0, 4, 5] == pytest.approx(0.5 + 0.4 * (1 - math.sqrt(0.5)) ** 2, rel=1e-6)


def _torch_rotate(torch, img, angle):
    """torch's grid_sample with an affine grid: normalised coordinates (align_corners=False)
    are pixel offsets from the centre divided by half the size."""
    h, w = img.shape[-2:]
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    theta = torch.tensor([[[c, -s * h / w, 0.0], [s * w / h, c, 0.0]]], dtype=torch.float64)
    x = torch.from_numpy(img[None].astype(np.float64))
    grid = torch.nn.functional.affine_grid(theta, x.shape, align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                           align_corners=False)[0].numpy()


@pytest.mark.parametrize("shape", [(2, 9, 9), (1, 6, 11)])
@pytest.mark.parametrize("angle", [30.0, -45.0, 137.0])
def test_rotation_matches_torch_grid_sample(shape, angle):
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(2).random(shape)
    np.testing.assert_allclose(T.rotate(img, angle), _torch_rotate(torch, img, angle),
                               atol=1e-10)


def test_random_rotation_draws_in_range():
    rot = T.RandomRotation(10, generator=0)
    angles = [rot.get_params() for _ in range(500)]
    assert -10 <= min(angles) < -9 and 9 < max(angles) <= 10
    fixed = T.RandomRotation((90, 90))
    img = _img(1, 4, 4)
    np.testing.assert_array_equal(fixed(img), np.rot90(img, 1, axes=(1, 2)))


# -- random resized crop ---------------------------------------------------------------------

def test_random_resized_crop_params_respect_scale_and_ratio():
    g = np.random.default_rng(0)
    for _ in range(300):
        top, left, h, w = T.RandomResizedCrop.get_params((40, 50), (0.3, 0.9), (0.75, 1.25), g)
        assert 0 <= top <= 40 - h and 0 <= left <= 50 - w
        # rounding h and w moves area and ratio a little
        assert 0.3 * 2000 * 0.9 <= h * w <= 0.9 * 2000 * 1.1
        assert 0.75 * 0.85 <= w / h <= 1.25 * 1.15


def test_random_resized_crop_fallback_is_central():
    # an area of 2-3x the image never fits: the whole height, width cut to the max ratio 4/3
    top, left, h, w = T.RandomResizedCrop.get_params((10, 40), (2.0, 3.0), (0.75, 4 / 3),
                                                     np.random.default_rng(0))
    assert (top, left, h, w) == (0, 13, 10, 13)


def test_random_resized_crop_output():
    img = _img(3, 12, 12)
    out = T.RandomResizedCrop((5, 7), generator=1)(img)
    assert out.shape == (3, 5, 7) and out.dtype == np.float32
    whole = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=1)(img)
    np.testing.assert_allclose(whole, T.resize(img, (6, 6)), rtol=1e-6)
    const = T.RandomResizedCrop(9, generator=2)(np.full((1, 20, 15), 0.25, np.float32))
    np.testing.assert_allclose(const, 0.25, rtol=1e-6)


# -- colour ----------------------------------------------------------------------------------

def test_brightness_scales_and_clips():
    img = np.array([[[0.2, 0.6]]], dtype=np.float32)
    np.testing.assert_allclose(T.ColorJitter(brightness=(0.5, 0.5))(img), [[[0.1, 0.3]]])
    np.testing.assert_allclose(T.ColorJitter(brightness=(2.0, 2.0))(img), [[[0.4, 1.0]]])
    factors = []
    jitter = T.ColorJitter(brightness=0.4, generator=0)
    for _ in range(200):
        factors.append(float(jitter(np.full((1, 1, 1), 0.5, np.float32))[0, 0, 0]) / 0.5)
    assert 0.6 <= min(factors) < 0.65 and 1.35 < max(factors) <= 1.4


def test_contrast_and_saturation_extremes():
    rgb = np.random.default_rng(3).random((3, 4, 4)).astype(np.float32)
    gray = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    flat = T.ColorJitter(contrast=(0.0, 0.0))(rgb)
    np.testing.assert_allclose(flat, gray.mean(), rtol=1e-5)
    desat = T.ColorJitter(saturation=(0.0, 0.0))(rgb)
    for c in range(3):
        np.testing.assert_allclose(desat[c], gray, rtol=1e-5)
    grey_img = rgb[:1]
    np.testing.assert_array_equal(T.ColorJitter(saturation=(0.0, 0.0))(grey_img), grey_img)


# -- shared rules ----------------------------------------------------------------------------

ALL = [T.Normalize((0.1, 0.2), (0.5, 0.6)), T.Pad(1), T.CenterCrop(3), T.Resize((7, 3)),
       T.RandomHorizontalFlip(1.0), T.RandomVerticalFlip(1.0), T.RandomCrop(3, padding=1),
       T.RandomResizedCrop(4), T.RandomRotation(30), T.ColorJitter(0.3, 0.3, 0.3)]


@pytest.mark.parametrize("tf", ALL, ids=[type(t).__name__ for t in ALL])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_tensor_in_tensor_out(tf, dtype):
    img = _img(2, 5, 4, dtype)
    out = tf(img)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    t = tf(sn.tensor(img))
    assert isinstance(t, sn.Tensor) and t.dtype == dtype


@pytest.mark.parametrize("tf", ALL, ids=[type(t).__name__ for t in ALL])
def test_uint8_hwc_input_asks_for_to_tensor(tf):
    with pytest.raises(TypeError, match=r"ToTensor\(\) first"):
        tf(np.zeros((32, 32, 3), dtype=np.uint8))


def test_seeded_transforms_are_reproducible():
    img = _img(3, 10, 10)
    pipeline = lambda g: T.Compose([T.RandomResizedCrop(6, generator=g),  # noqa: E731
                                    T.RandomRotation(20, generator=g),
                                    T.ColorJitter(brightness=0.5, generator=g)])
    a, b, c = pipeline(7)(img), pipeline(7)(img), pipeline(8)(img)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    sn.manual_seed(4)
    d = T.RandomRotation(40)(img)
    sn.manual_seed(4)
    np.testing.assert_array_equal(T.RandomRotation(40)(img), d)


def test_argument_errors():
    with pytest.raises(ValueError, match="p must lie in"):
        T.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="degrees"):
        T.RandomRotation(-5)
    with pytest.raises(ValueError, match="brightness"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(TypeError, match="size"):
        T.RandomCrop("32")
    with pytest.raises(ValueError, match="expects an image"):
        T.Pad(1)(np.zeros(4, np.float32))
