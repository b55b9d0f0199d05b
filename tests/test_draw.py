"""Drawing boxes, masks and grids: exact pixels on small images."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.utils import (draw_bounding_boxes, draw_segmentation_masks, make_grid,
                              save_image_grid)

RED = (255, 0, 0)


def outline(h, w, box, width=1):
    """Expected boolean picture of a box outline, written out pixel by pixel."""
    x1, y1, x2, y2 = box
    pic = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            inside = x1 <= x <= x2 and y1 <= y <= y2
            near = min(x - x1, x2 - x, y - y1, y2 - y) < width
            pic[y, x] = inside and near
    return pic


def test_outline_width_one():
    img = np.zeros((3, 6, 8), np.uint8)
    out = draw_bounding_boxes(img, np.array([[1, 1, 5, 4]]), colors=(10, 20, 30))
    want = np.zeros((3, 6, 8), np.uint8)
    want[:, [1, 4], 1:6] = np.array([10, 20, 30])[:, None, None]
    want[:, 1:5, [1, 5]] = np.array([10, 20, 30])[:, None, None]
    np.testing.assert_array_equal(out, want)
    assert not img.any(), "the input image must not change"


def test_outline_width_two_and_truncation():
    img = np.zeros((3, 7, 7), np.uint8)
    # fractional corners are truncated: [1.9, 0.2, 5.7, 5.99] -> [1, 0, 5, 5]
    out = draw_bounding_boxes(img, np.array([[1.9, 0.2, 5.7, 5.99]]), colors="red", width=2)
    np.testing.assert_array_equal(out[0] == 255, outline(7, 7, (1, 0, 5, 5), 2))
    # only rows 2-3 of column 3 lie inside the 2-pixel outline; column 6 is outside the box
    inside = out[0, 0:6, 1:6] == 0
    np.testing.assert_array_equal(np.argwhere(inside) + [0, 1], [[2, 3], [3, 3]])
    assert not out[0, :, 6].any()


def test_fill_blends_at_100_of_255():
    img = np.full((3, 5, 5), 50, np.uint8)
    out = draw_bounding_boxes(img, np.array([[1, 1, 3, 3]]), colors=RED, fill=True)
    # inside: round((100 * 255 + 155 * 50) / 255) = round(130.39) = 130, and
    # round(155 * 50 / 255) = round(30.39) = 30 for green and blue
    np.testing.assert_array_equal(out[:, 2, 2], [130, 30, 30])
    np.testing.assert_array_equal(out[:, 1, 1], RED)            # the outline is opaque
    np.testing.assert_array_equal(out[:, 0, 0], [50, 50, 50])   # outside is untouched


def test_box_partly_outside_and_wholly_outside():
    img = np.zeros((3, 5, 5), np.uint8)
    out = draw_bounding_boxes(img, np.array([[-2, -2, 2, 2], [7, 7, 9, 9]]),
                              colors=[RED, RED])
    # only the right and bottom edges of the first box fall inside the image
    want = np.zeros((5, 5), bool)
    want[2, 0:3] = True
    want[0:3, 2] = True
    np.testing.assert_array_equal(out[0] == 255, want)


def test_later_boxes_on_top_and_grey_images():
    img = np.zeros((1, 4, 4), np.uint8)
    out = draw_bounding_boxes(img, np.array([[0, 0, 3, 3], [0, 0, 2, 2]]),
                              colors=[(1, 1, 1), (2, 2, 2)])
    assert out.shape == (3, 4, 4)
    assert out[0, 0, 0] == 2 and out[0, 3, 3] == 1 and out[0, 1, 1] == 0


def test_labels_blend_text_into_the_corner():
    img = np.zeros((3, 30, 60), np.uint8)
    box = np.array([[3, 2, 55, 27]])
    plain = draw_bounding_boxes(img, box, colors=(200, 100, 0))
    out = draw_bounding_boxes(img, box, labels=["digit 7"], colors=(200, 100, 0),
                              font_size=10)
    changed = np.argwhere((out != plain).any(axis=0))
    assert len(changed) > 10
    # the text starts at (x1 + width + 1, y1 + width + 1) = (5, 4)
    assert changed[:, 0].min() == 4 and changed[:, 1].min() == 5
    # text pixels are the box colour blended over black: green = red / 2 up to rounding
    r, g, b = out[:, changed[:, 0], changed[:, 1]].astype(int)
    assert (b == 0).all() and (np.abs(2 * g - r) <= 2).all()


def test_tensor_in_tensor_out():
    img = sn.tensor(np.zeros((3, 4, 4), np.uint8))
    out = draw_bounding_boxes(img, sn.tensor(np.array([[0.0, 0.0, 3.0, 3.0]])))
    assert isinstance(out, sn.Tensor) and out.dtype == np.uint8


def test_box_errors():
    with pytest.raises(ValueError, match=r"transpose\(2, 0, 1\)"):
        draw_bounding_boxes(np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4)))
    with pytest.raises(TypeError, match="uint8"):
        draw_bounding_boxes(np.zeros((3, 4, 4)), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="x2 < x1"):
        draw_bounding_boxes(np.zeros((3, 4, 4), np.uint8), np.array([[3, 0, 1, 2]]))
    with pytest.raises(ValueError, match="2 labels for 1 boxes"):
        draw_bounding_boxes(np.zeros((3, 4, 4), np.uint8), np.array([[0, 0, 1, 1]]),
                            labels=["a", "b"])


def test_segmentation_masks_exact():
    img = np.full((3, 3, 3), 10, np.uint8)
    m = np.zeros((2, 3, 3), bool)
    m[0, 0, :] = True
    m[1, 0, 0] = m[1, 2, 2] = True
    out = draw_segmentation_masks(img, m, alpha=0.5, colors=[RED, (0, 0, 255)])
    # 10 * 0.5 + 255 * 0.5 = 132.5 -> 132 (truncated, as torchvision's .to(uint8))
    np.testing.assert_array_equal(out[:, 0, 1], [132, 5, 5])
    np.testing.assert_array_equal(out[:, 0, 0], [5, 5, 132])   # the later mask on top
    np.testing.assert_array_equal(out[:, 2, 2], [5, 5, 132])
    np.testing.assert_array_equal(out[:, 1, 1], [10, 10, 10])
    # alpha 0.25: 10 * 0.75 + 255 * 0.25 = 71.25 -> 71
    out = draw_segmentation_masks(img, m[0], alpha=0.25, colors="red")
    np.testing.assert_array_equal(out[:, 0, 2], [71, 7, 7])
    np.testing.assert_array_equal(draw_segmentation_masks(img, m, alpha=0.0), img)


def test_segmentation_mask_errors():
    img = np.zeros((3, 3, 3), np.uint8)
    with pytest.raises(TypeError, match="bool"):
        draw_segmentation_masks(img, np.zeros((1, 3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"H, W"):
        draw_segmentation_masks(img, np.zeros((1, 3, 4), bool))
    with pytest.raises(ValueError, match="alpha"):
        draw_segmentation_masks(img, np.zeros((1, 3, 3), bool), alpha=1.5)


def test_make_grid_layout():
    ims = np.stack([np.full((1, 2, 2), v, np.uint8) for v in (1, 2, 3)])
    grid = make_grid(ims, nrow=2, padding=1, pad_value=9)
    # 2 columns, 2 rows: (2 * (2 + 1) + 1) square, one-channel images repeated to 3
    assert grid.shape == (3, 7, 7)
    want = np.full((7, 7), 9, np.uint8)
    want[1:3, 1:3], want[1:3, 4:6], want[4:6, 1:3] = 1, 2, 3
    for c in range(3):
        np.testing.assert_array_equal(grid[c], want)


def test_make_grid_normalize():
    ims = np.array([[[[0.0, 2.0]]], [[[4.0, 8.0]]]])
    np.testing.assert_allclose(make_grid(ims, padding=0, normalize=True)[0],
                               [[0, 0.25, 0.5, 1]])
    np.testing.assert_allclose(make_grid(ims, padding=0, normalize=True, scale_each=True)[0],
                               [[0, 1, 0, 1]])


def test_save_image_grid(tmp_path):
    from matplotlib.image import imread

    ims = [np.zeros((3, 8, 8), np.uint8), np.full((8, 8), 200, np.uint8)]
    path = save_image_grid(ims, tmp_path / "grid.png", labels=["zero", "grey"], ncols=2)
    pic = imread(path)
    assert pic.ndim == 3 and pic.shape[0] > 50 and pic.shape[1] > 100
    with pytest.raises(ValueError, match="1 labels for 2 images"):
        save_image_grid(ims, tmp_path / "x.png", labels=["one"])
