"""Sliding windows: window counts and boxes worked by hand, the detector on a synthetic image
with a classifier whose answer is known, bad input, the `detect sliding-window` and
`detect selective-search` commands, and (slow) the trained face detector on the astronaut."""
import os
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.models.detection.sliding_window import (FaceNet, SlidingWindowDetector,
                                                        count_windows, pyramid_window_count,
                                                        sliding_windows)
from scratchnet.ops.boxes import box_iou

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_count_windows_by_hand():
    assert count_windows((512, 512), 64, 16) == 29 * 29 == 841     # (512 - 64)/16 + 1 = 29
    # (10 - 3)//2 + 1 = 4 rows, (7 - 2)//3 + 1 = 2 columns
    assert count_windows((10, 7), (3, 2), (2, 3)) == 8
    assert count_windows((10, 7), 8, 1) == 0                       # does not fit across
    assert count_windows((5, 5), 5, 7) == 1


def test_sliding_windows_boxes_by_hand():
    boxes = sliding_windows((4, 5), [2], 2)
    assert boxes.dtype == np.float32
    assert boxes.tolist() == [[0, 0, 2, 2], [2, 0, 4, 2], [0, 2, 2, 4], [2, 2, 4, 4]]
    two = sliding_windows((4, 5), [2, (4, 5)], [2, 1])
    assert two.tolist()[4:] == [[0, 0, 5, 4]] and len(two) == 5
    for size, stride in ((3, 1), ((2, 3), (1, 2))):
        assert len(sliding_windows((9, 11), [size], [stride])) == \
            count_windows((9, 11), size, stride)


def test_sliding_windows_bad_input():
    with pytest.raises(ValueError, match="positive int"):
        sliding_windows((10, 10), [0], 1)
    with pytest.raises(ValueError, match="2 strides for 3 window sizes"):
        sliding_windows((10, 10), [2, 3, 4], [1, 2])


class Brightness(nn.Module):
    """A 'classifier' that calls a crop class 1 in proportion to its mean brightness:
    logits (0, 20 (mean - 0.5))."""

    def forward(self, x):
        m = x.reshape(x.shape[0], -1).mean(dim=1, keepdim=True)
        return sn.cat([m * 0, (m - 0.5) * 20], dim=1)


def test_detector_finds_the_bright_square():
    img = np.zeros((1, 1, 100, 100), np.float32)
    img[0, 0, 20:52, 40:72] = 1.0                       # a 32x32 square at x 40, y 20
    det = SlidingWindowDetector(Brightness(), window_sizes=(32,), stride=0.25).eval()
    out = det(img)[0]
    # the level is round(100 * 25/32) = 78 pixels, the step round(0.25 * 25) = 6:
    # ((78 - 25)//6 + 1)^2 = 9^2 = 81 windows
    assert out["num_windows"] == 81 == pyramid_window_count((100, 100), (32,), 25, 0.25)
    assert out["boxes"].dtype == np.float32 and out["labels"].tolist() == [1] * len(out["boxes"])
    # at the level (scale 0.78) the square spans x 31.2-56.16, y 15.6-40.56; of the windows
    # starting at multiples of 6, (x 30, y 18) covers most of it (23.8 x 22.56 pixels), and
    # maps back to [30, 18, 55, 43] / 0.78
    best = out["boxes"][np.argmax(out["scores"])]
    np.testing.assert_allclose(best, np.array([30, 18, 55, 43]) / 0.78, rtol=1e-6)
    # NMS at 0.3: no two kept boxes overlap more than that
    iou = box_iou(out["boxes"], out["boxes"]) - np.eye(len(out["boxes"]))
    assert (iou <= 0.3 + 1e-6).all()


def test_detector_bad_input():
    det = SlidingWindowDetector(Brightness(), window_sizes=(32,))
    with pytest.raises(RuntimeError, match="train the classifier on crops"):
        det(np.zeros((1, 1, 40, 40), np.float32))
    det.eval()
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\)"):
        det(np.zeros((40, 40), np.float32))
    with pytest.raises(ValueError, match="no window size"):
        det(np.zeros((1, 1, 20, 20), np.float32))
    with pytest.raises(ValueError, match="fraction of the window"):
        SlidingWindowDetector(Brightness(), stride=2)


def test_facenet_shapes():
    out = FaceNet()(sn.tensor(np.random.default_rng(0).random((3, 1, 25, 25),
                                                                 dtype=np.float32)))
    assert out.shape == (3, 2)


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", NUMBA_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "scratchnet", "detect", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_selective_search(tmp_path):
    import matplotlib.image as mpimg
    img = np.full((40, 48, 3), 0.5)
    img[5:15, 5:15] = [1.0, 0.2, 0.2]
    path = tmp_path / "in.png"
    mpimg.imsave(path, img)
    r = _cli("selective-search", str(path), "--out", str(tmp_path / "out.png"), "--top", "5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "proposals in" in r.stdout and (tmp_path / "out.png").stat().st_size > 0
    r = _cli("selective-search", str(tmp_path / "missing.png"))
    assert r.returncode == 2 and "no image file" in r.stdout
    r = _cli("selective-search", str(path), "--top", "-1")
    assert r.returncode == 2 and "--top must be >= 0" in r.stdout


def test_cli_sliding_window_bad_input(tmp_path):
    r = _cli("sliding-window", str(tmp_path / "missing.png"))
    assert r.returncode == 2 and "no image file" in r.stdout
    r = _cli("sliding-window", "astronaut", "--stride", "2")
    assert r.returncode == 2 and "--stride" in r.stdout


@pytest.mark.slow
def test_trained_face_detector_finds_the_astronaut():
    """The full recipe (LFW + face-free photos, two rounds of hard negatives) finds the face
    of the astronaut photo, which it never saw: a detection with IoU >= 0.5 against the face
    box read off the photo ([165, 65, 260, 165], forehead to chin)."""
    import skimage.data
    from scratchnet.detection.sliding_window import detect_faces, grey, train_face_classifier

    model, report = train_face_classifier(log=None)
    assert report["test_accuracy"] >= 0.9                     # 40 held-out LFW images
    r = detect_faces(grey(skimage.data.astronaut()), model)
    face = np.array([[165, 65, 260, 165]], np.float32)
    assert len(r["boxes"]) and box_iou(r["boxes"], face).max() >= 0.5
