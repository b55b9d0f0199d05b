"""Felzenszwalb-Huttenlocher segmentation and selective search: hand-worked graphs and
similarities, scikit-image / SciPy as references for the segmentation, the smoothing and the
colour spaces, and the ranking and bad-input rules."""
import importlib

import numpy as np
import pytest

from scratchnet.kernels import felzenszwalb as fzk
from scratchnet.kernels import grouping as grk
from scratchnet.models.detection.selective_search import (Hierarchy, felzenszwalb,
                                                          hierarchical_grouping, rank_proposals,
                                                          region_features, selective_search)

# the package exports the function under the module's name, so fetch the module itself
ssm = importlib.import_module("scratchnet.models.detection.selective_search")


def chain(weights):
    """A path graph 0 - 1 - 2 - ... with the given edge weights."""
    n = len(weights) + 1
    edges = np.array([[i, i + 1] for i in range(n - 1)], np.int64)
    return n, edges, np.asarray(weights, np.float64)


def test_segment_graph_threshold_by_hand():
    # k = 1: single nodes accept any edge <= 0 + 1/1. After 0-1 (w 0.1) the component has
    # Int 0.1 and size 2: threshold 0.1 + 1/2 = 0.6, so the 5.0 edge stays a boundary.
    n, e, w = chain([0.1, 5.0, 0.1])
    assert fzk.segment_graph(n, e, w, 1.0, 0).tolist() == [0, 0, 1, 1]
    # min_size 3 merges the two 2-node segments across their lightest edge
    assert fzk.segment_graph(n, e, w, 1.0, 3).tolist() == [0, 0, 0, 0]


def test_segment_graph_k_over_size_and_the_equality_case():
    # k = 1: {0,1} (Int 0.5, size 2) has threshold 0.5 + 0.5 = 1.0, node 2 has 1.0: the
    # 0.7 edge merges. k = 0.5: the first edge sits exactly on 0 + 0.5 (the paper merges when
    # w <= MInt), then {0,1} has 0.5 + 0.25 = 0.75 but node 2 only 0.5 < 0.7: two segments.
    n, e, w = chain([0.5, 0.7])
    assert fzk.segment_graph(n, e, w, 1.0, 0).tolist() == [0, 0, 0]
    assert fzk.segment_graph(n, e, w, 0.5, 0).tolist() == [0, 0, 1]


def test_grid_edges_8_neighbours_by_hand():
    img = np.arange(6, dtype=np.float64).reshape(2, 3, 1)    # 0 1 2 / 3 4 5
    edges, weights = fzk.grid_edges(img)
    # 2 rows x 2 right + 3 down + 2 down-right + 2 down-left = 11 edges
    assert len(edges) == 11
    got = {(int(a), int(b)): float(c) for (a, b), c in zip(edges, weights)}
    assert got[(0, 1)] == 1.0 and got[(0, 3)] == 3.0 and got[(0, 4)] == 4.0
    assert got[(1, 3)] == 2.0 and got[(2, 4)] == 2.0 and (2, 3) not in got


def test_two_flat_halves_give_two_segments():
    img = np.zeros((6, 8))
    img[:, 4:] = 1.0
    labels = felzenszwalb(img, scale=1, sigma=0, min_size=0)
    assert labels[:, :4].tolist() == [[0] * 4] * 6
    assert labels[:, 4:].tolist() == [[1] * 4] * 6


def test_smoothing_matches_scipy_gaussian_filter():
    ndi = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    img = rng.random((13, 17, 2))
    for sigma in (0.8, 2.0):
        ours = fzk.smooth(img, fzk.gaussian_kernel1d(sigma))
        ref = ndi.gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect", truncate=4.0)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def _photo(name, shape=(375, 500)):
    skd = pytest.importorskip("skimage.data")
    from skimage.transform import resize
    return resize(getattr(skd, name)(), shape, anti_aliasing=True)


@pytest.mark.parametrize("name,scale", [("astronaut", 50), ("coffee", 100), ("camera", 300)])
def test_felzenszwalb_agrees_with_scikit_image(name, scale):
    """Same algorithm, same graph, same smoothing: the partitions can differ only where two
    edges of exactly equal weight are visited in another order (scikit-image sorts with an
    unstable quicksort, we with a stable one), which on a smoothed photo touches a handful of
    pixels at most. Measured: identical partitions (adjusted Rand index 1.0, the same number
    of segments) on all three photos; the test allows a 1% slack on both for such ties."""
    seg = pytest.importorskip("skimage.segmentation")
    from sklearn.metrics import adjusted_rand_score
    img = _photo(name)
    ours = felzenszwalb(img, scale=scale, sigma=0.8, min_size=scale)
    ref = seg.felzenszwalb(img, scale=scale, sigma=0.8, min_size=scale,
                           channel_axis=-1 if img.ndim == 3 else None)
    n_ours, n_ref = ours.max() + 1, ref.max() + 1
    assert abs(n_ours - n_ref) <= 0.01 * n_ref
    assert adjusted_rand_score(ref.ravel(), ours.ravel()) >= 0.99


def test_colour_spaces_match_scikit_image():
    color = pytest.importorskip("skimage.color")
    rng = np.random.default_rng(1)
    rgb = rng.random((9, 11, 3))
    rgb[0, 0] = 0.0
    rgb[0, 1] = 0.5                       # a grey: hue 0, saturation 0
    rgb[0, 2] = [1.0, 0.0, 1.0]           # magenta, hue 5/6
    np.testing.assert_allclose(ssm.rgb_to_hsv(rgb), color.rgb2hsv(rgb), atol=1e-12)
    np.testing.assert_allclose(ssm.rgb_to_lab(rgb), color.rgb2lab(rgb), atol=1e-6)


def test_rgi_and_intensity_by_hand():
    rgb = np.array([[[0.2, 0.2, 0.6], [0.0, 0.0, 0.0]]])
    rgi = ssm.colour_space(rgb, "rgi")
    np.testing.assert_allclose(rgi[0, 0], [0.2, 0.2, 1 / 3])
    np.testing.assert_allclose(rgi[0, 1], [1 / 3, 1 / 3, 0.0])   # black: r = g = 1/3 by rule
    np.testing.assert_allclose(ssm.colour_space(rgb, "i")[..., 0], [[1 / 3, 0.0]])


def test_similarities_by_hand():
    w = ssm.similarity_weights
    ca, cb = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.25, 0.25, 0.5, 0.0])
    ta, tb = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ba, bb = np.array([0.0, 0.0, 2.0, 2.0]), np.array([3.0, 3.0, 4.0, 4.0])
    args = (4.0, 1.0, ba, bb, ca, cb, ta, tb, 25.0)
    assert grk.similarity(*args, w("C")) == pytest.approx(0.5)      # min summed: .25+.25
    assert grk.similarity(*args, w("T")) == pytest.approx(0.0)
    assert grk.similarity(*args, w("S")) == pytest.approx(1 - 5 / 25)
    # union box [0, 0, 4, 4]: 16 pixels, 11 of them in neither region
    assert grk.similarity(*args, w("F")) == pytest.approx(1 - 11 / 25)
    assert grk.similarity(*args, w("CTSF")) == pytest.approx(0.5 + 0.8 + 14 / 25)


def test_grouping_by_size_by_hand():
    # one row: segment 0 has 4 pixels, 1 has 1, 2 has 2; size similarity 1 - (a + b) / 7
    labels = np.array([[0, 0, 0, 0, 1, 2, 2]])
    img = np.zeros((1, 7, 3))
    regions = region_features(labels, img)
    assert regions.size.tolist() == [4, 1, 2]
    assert regions.pairs.tolist() == [[0, 1], [1, 2]]
    h = hierarchical_grouping(regions, "S")
    assert h.merges.tolist() == [[1, 2], [0, 3]]             # 4/7 > 2/7, then the last pair
    np.testing.assert_allclose(h.sims, [4 / 7, 0.0])
    assert h.boxes.tolist() == [[0, 0, 4, 1], [4, 0, 5, 1], [5, 0, 7, 1], [4, 0, 7, 1],
                                [0, 0, 7, 1]]


def test_grouping_by_colour_merges_alike_regions_first():
    # four vertical stripes: dark, bright, dark, bright; colour similarity is 1 between
    # stripes of one shade and 0 otherwise, but only neighbours may merge.
    labels = np.repeat(np.arange(4)[None], 3, axis=0).repeat(2, axis=1)
    img = np.zeros((3, 8, 3))
    img[:, 2:4] = 1.0
    img[:, 6:8] = 1.0
    h = hierarchical_grouping(region_features(labels, img), "C")
    assert h.merges.tolist()[0] == [0, 1]                    # all pairs 0: lowest ids first
    assert len(h.merges) == 3 and h.boxes[-1].tolist() == [0, 0, 8, 3]


def test_region_histograms_are_l1_normalised():
    img = _photo("astronaut", (60, 80))
    labels = felzenszwalb(img, 100, 0.8, 100)
    r = region_features(labels, img)
    assert r.colour.shape == (labels.max() + 1, 75) and r.texture.shape[1] == 240
    np.testing.assert_allclose(r.colour.sum(1), 1.0)
    np.testing.assert_allclose(r.texture.sum(1), 1.0)
    assert r.size.sum() == 60 * 80


def test_texture_of_a_vertical_step():
    img = np.zeros((12, 12, 1))
    img[:, 6:] = 1.0
    bins = ssm.texture_bins(img)
    # orientation 0 (d/dx) peaks on the edge; 180 degrees (index 4) is negative there, so
    # rectified to 0; 90 degrees (d/dy) is zero on a vertical edge
    assert bins[:, :, 0].max() == 9 and (bins[:, 5:7, 0] == 9).all()
    assert bins[:, :, 4].max() == 0 and bins[:, :, 2].max() == 0


def test_rank_proposals_order_and_duplicates():
    whole = [0, 0, 10, 10]
    h1 = Hierarchy(np.array([[0, 0, 5, 10], [5, 0, 10, 10], whole], float),
                   np.array([[0, 1]]), np.array([0.5]))
    h2 = Hierarchy(np.array([[0, 0, 10, 5], [0, 5, 10, 10], whole], float),
                   np.array([[0, 1]]), np.array([0.5]))
    out = rank_proposals([h1, h2], seed=3)
    assert len(out) == 5                      # the whole image is in both: kept once
    # by the definition: value = RND * position, position 3, 2, 1 within each hierarchy
    rnd = np.random.default_rng(3)
    v = np.r_[rnd.random(3) * [3, 2, 1], rnd.random(3) * [3, 2, 1]]
    boxes = np.r_[h1.boxes, h2.boxes][np.argsort(v, kind="stable")]
    expected = [b for i, b in enumerate(boxes.tolist()) if b not in boxes.tolist()[:i]]
    assert out.tolist() == expected


def test_selective_search_finds_the_two_squares():
    img = np.full((40, 40), 0.5)
    img[5:15, 5:15] = 1.0
    img[20:35, 22:30] = 0.0
    boxes = selective_search(img, "fast")
    assert boxes.dtype == np.float32 and boxes.shape[1] == 4
    got = boxes.tolist()
    assert [5, 5, 15, 15] in got and [22, 20, 30, 35] in got and [0, 0, 40, 40] in got
    assert len(np.unique(boxes, axis=0)) == len(boxes)


def test_selective_search_layouts_seed_and_modes():
    img = _photo("coffee", (48, 64))
    hwc = selective_search(img, "single")
    chw = selective_search(np.moveaxis(img, -1, 0), "single")
    u8 = selective_search((img * 255).round().astype(np.uint8), "single")
    np.testing.assert_array_equal(hwc, chw)
    assert len(u8) > 0
    assert (hwc[:, 0] >= 0).all() and (hwc[:, 2] <= 64).all() and (hwc[:, 3] <= 48).all()
    assert (hwc[:, 2] > hwc[:, 0]).all() and (hwc[:, 3] > hwc[:, 1]).all()
    a, b = selective_search(img, "fast", seed=1), selective_search(img, "fast", seed=2)
    np.testing.assert_array_equal(a, selective_search(img, "fast", seed=1))
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))
    assert len(selective_search(img, "fast")) > len(hwc)
    big = selective_search(img, "fast", min_box_size=20)
    assert ((big[:, 2] - big[:, 0]) >= 20).all() and ((big[:, 3] - big[:, 1]) >= 20).all()


def test_one_pixel_and_flat_images():
    assert selective_search(np.zeros((1, 1)), "fast").tolist() == [[0, 0, 1, 1]]
    assert selective_search(np.zeros((5, 7)), "single").tolist() == [[0, 0, 7, 5]]


@pytest.mark.parametrize("image,err,match", [
    (np.zeros((4, 5, 7)), ValueError, r"\(H, W\), \(H, W, 3\) or \(C, H, W\)"),
    (np.zeros((4,)), ValueError, "got shape"),
    (np.zeros((4, 5), bool), TypeError, "uint8 or floating"),
    (np.full((4, 5), 2.0), ValueError, r"\[0, 1\].*divide"),
    (np.full((4, 5), np.nan), ValueError, "NaN"),
])
def test_bad_images(image, err, match):
    with pytest.raises(err, match=match):
        selective_search(image)


def test_bad_options():
    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match="mode must be one of"):
        selective_search(img, mode="slow")
    with pytest.raises(ValueError, match="letters from 'CTSF'"):
        selective_search(img, strategies=(("hsv",), (100,), ("CX",)))
    with pytest.raises(ValueError, match="colour space must be one of"):
        selective_search(img, strategies=(("yuv",), (100,), ("C",)))
    with pytest.raises(ValueError, match="k values must be > 0"):
        selective_search(img, strategies=(("hsv",), (0,), ("C",)))
    with pytest.raises(ValueError, match="scale > 0"):
        felzenszwalb(img, scale=-1)


def test_image_scale_maps_boxes_back():
    img = np.full((20, 20), 0.5)
    img[4:12, 6:16] = 1.0
    boxes = selective_search(img, "fast", image_scale=4)
    # at 80x80 the square is [24, 16, 64, 48]; mapped back by / 4 (bilinear blur may widen
    # a box by a scaled pixel or two, so look for the best match)
    best = np.abs(boxes - np.array([6, 4, 16, 12], np.float32)).sum(axis=1).min()
    assert best <= 0.5
    assert boxes[:, 2].max() <= 20 and boxes[:, 3].max() <= 20
    with pytest.raises(ValueError, match="image_scale must be > 0"):
        selective_search(img, image_scale=0)


def test_proposal_recall_by_hand():
    from scratchnet.metrics import proposal_recall
    gt1 = {"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)}
    gt2 = {"boxes": np.array([[0, 0, 4, 4]], np.float32)}
    # image 1: the first proposal misses both, the second covers box 0 (IoU 81/100), the
    # third box 1 at IoU 50/100 exactly (counts: the threshold is >=); image 2: none hit
    p1 = np.array([[50, 50, 60, 60], [1, 1, 10, 10], [20, 20, 30, 25]], np.float32)
    p2 = np.array([[0, 0, 1, 1]], np.float32)
    r = proposal_recall([p1, p2], [gt1, gt2], counts=(0, 1, 2, 3, 100))
    np.testing.assert_allclose(r, [0, 0, 1 / 3, 2 / 3, 2 / 3])
    r = proposal_recall([p1, np.zeros((0, 4))], [gt1, gt2["boxes"]], counts=(3,),
                        iou_threshold=0.8)
    np.testing.assert_allclose(r, [1 / 3])
    with pytest.raises(ValueError, match="one of each per image"):
        proposal_recall([p1], [gt1, gt2])
    with pytest.raises(ValueError, match=r"must be \(P, 4\)"):
        proposal_recall([p1[:, :3], p2], [gt1, gt2])


def test_region_features_renumber_labels_and_check_shape():
    img = np.zeros((2, 3, 3))
    r = region_features(np.array([[7, 7, 3], [7, 3, 3]]), img)
    assert r.size.tolist() == [3, 3]                      # label 3 -> 0, label 7 -> 1
    assert r.box.tolist() == [[1, 0, 3, 2], [0, 0, 2, 2]]
    with pytest.raises(ValueError, match=r"labels must be \(H, W\)"):
        region_features(np.zeros((3, 2), int), img)


def test_quality_mode_is_a_superset_of_strategies():
    img = _photo("coffee", (40, 60))
    quality = selective_search(img, "quality")
    fast = selective_search(img, "fast")
    # quality runs the fast mode's 8 hierarchies among its 80: every fast box is in it
    assert {tuple(b) for b in fast.tolist()} <= {tuple(b) for b in quality.tolist()}
    assert len(quality) > len(fast)
