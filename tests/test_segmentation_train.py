"""Segmentation training and evaluation: pixelwise scores in the shared loop, IoU by object
size, the train / evaluate commands on segmentation checkpoints, and (slow) the default
recipes reaching the issue's targets on held-out data."""
import json
import os

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import data, nn
from scratchnet.cli import main
from scratchnet.segmentation import iou_by_size, report
from scratchnet.train import evaluate


class _Fixed(nn.Module):
    """A 'model' that returns stored logits, so evaluate's counting can be checked by hand."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return sn.tensor(self.logits[: x.shape[0]])


def test_evaluate_counts_pixels_and_leaves_the_ignore_index_out():
    # one 2x2 image, 3 classes; predictions [[0, 1], [2, 2]]; truth [[0, 2], [2, 255]]
    logits = np.zeros((1, 3, 2, 2))
    for (i, j), k in np.ndenumerate(np.array([[0, 1], [2, 2]])):
        logits[0, k, i, j] = 5.0
    y = np.array([[[0, 2], [2, 255]]])
    loader = data.DataLoader(data.TensorDataset(np.zeros((1, 1, 2, 2)), y), batch_size=1)
    from functools import partial
    r = evaluate(_Fixed(logits), loader, partial(sn.nn.functional.cross_entropy,
                                                 ignore_index=255), num_classes=3)
    # three counted pixels, two right: (0,0) class 0 and (1,0) class 2
    assert r.accuracy == pytest.approx(2 / 3)
    np.testing.assert_array_equal(r.confusion, [[1, 0, 0], [0, 0, 0], [0, 1, 1]])
    assert r.n == 1


def test_iou_by_size_by_hand():
    # a digit of class 3 whose 2x4 box holds a mask of 6 pixels; the prediction marks 4 of
    # them and 1 extra pixel in the box: IoU = 4 / (6 + 1) ; a pixel outside the box is ignored
    mask = np.zeros((8, 8), bool)
    mask[2:4, 1:5] = True
    mask[2, 1] = mask[3, 4] = False
    pred = np.zeros((8, 8), np.int64)
    pred[2, 2:5] = 3          # (2,2) (2,3) mask, (2,4) mask
    pred[3, 2] = 3            # mask
    pred[3, 4] = 3            # in the box, not in the mask
    pred[7, 7] = 3            # outside the box
    target = {"masks": mask[None], "boxes": np.array([[1, 2, 5, 4]], np.float32),
              "labels": np.array([3])}
    h, iou = iou_by_size(pred[None], [target])
    assert h.tolist() == [2]
    assert iou[0] == pytest.approx(4 / 7)


def test_report_gives_the_miou_of_the_confusion_matrix():
    class Const(nn.Module):
        def forward(self, x):      # always "class 1" on a 2-class problem
            out = np.zeros((x.shape[0], 2) + tuple(x.shape[2:]))
            out[:, 1] = 1.0
            return sn.tensor(out)

    labels = np.array([[[0, 1], [1, 255]]])
    r = report(Const(), np.zeros((1, 1, 2, 2), np.float32), labels, [], "nuclei")
    # class 0: 0 right of 1 -> IoU 0; class 1: 2 right, 1 false positive -> 2/3
    assert r["class_iou"] == pytest.approx([0.0, 2 / 3])
    assert r["miou"] == pytest.approx(1 / 3)


def test_train_and_evaluate_a_segmentation_checkpoint(tmp_path, capsys):
    out = tmp_path / "fcn"
    rc = main(["train", "fcn8s", "--limit", "4", "--epochs", "1", "--batch-size", "2",
               "--width", "0.0625", "--no-progress", "--out", str(out)])
    assert rc == 0
    for name in ("checkpoint.npz", "history.json", "curves.png", "predictions.png",
                 "iou_by_size.png"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "history.json").read_text())
    assert saved["meta"]["width"] == 0.0625 and len(saved["report"]["class_iou"]) == 11
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    text = capsys.readouterr().out
    # the same held-out scenes, the same weights: the same mIoU as at the end of training
    assert f"mIoU {saved['meta']['miou']:.3f}" in text


def test_run_label_names_model_scale_and_epochs():
    from scratchnet.segmentation import run_label
    assert run_label({"model": "fcn8s", "scale": 2, "epochs": 12}) == "fcn8s (x2, 12 epochs)"
    assert run_label({"model": "fcn8s", "scale": 1, "epochs": 3}) == "fcn8s (3 epochs)"
    assert run_label({"model": "unet"}) == "unet"


def _fake_run(folder, model, scale, miou, heights, ious):
    folder.mkdir()
    meta = {"model": model, "data": "digit-scenes", "scale": scale, "miou": miou,
            "train_cpu_seconds": 100.0, "pretrained": {"cpu_seconds": 20.0}}
    report = {"object_heights": heights, "object_ious": ious}
    (folder / "history.json").write_text(json.dumps({"meta": meta, "report": report}))
    return str(folder)


def test_segment_compare_tables_and_plots_several_runs(tmp_path, capsys):
    a = _fake_run(tmp_path / "a", "fcn8s", 2, 0.61, [5, 6, 40], [0.2, 0.4, 0.9])
    b = _fake_run(tmp_path / "b", "deconvnet", 1, 0.55, [10, 50], [0.5, 0.7])
    out = tmp_path / "cmp.png"
    assert main(["segment", "compare", a, b, "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    from scratchnet.segmentation import compare_runs
    rows = compare_runs([a, b], str(tmp_path / "cmp2.png"), log=None)
    assert [r["run"] for r in rows] == ["fcn8s (x2)", "deconvnet"]
    # bins 4-7, 8-11, 12-15, 16-23, 24-31, 32-51: heights 5 and 6 share the first bin
    assert rows[0]["by_size"][0] == pytest.approx(0.3)
    assert rows[0]["by_size"][5] == pytest.approx(0.9)
    assert np.isnan(rows[0]["by_size"][1])
    assert rows[1]["by_size"][1] == pytest.approx(0.5) and rows[1]["by_size"][5] == 0.7
    text = capsys.readouterr().out
    assert "fcn8s (x2)" in text and "0.610" in text and "120" in text   # 100 + 20 CPU-s


def test_segment_compare_refuses_a_folder_without_a_run(tmp_path, capsys):
    assert main(["segment", "compare", str(tmp_path)]) == 2
    assert "no history.json" in capsys.readouterr().out


def test_segmentation_settings_are_checked(tmp_path, capsys):
    assert main(["train", "unet", "--data", "digits", "--out", str(tmp_path / "x")]) == 2
    assert "unet trains on digit-scenes, nuclei" in capsys.readouterr().out
    assert main(["train", "lenet5", "--width", "0.5", "--out", str(tmp_path / "y")]) == 2
    assert "--width scales the segmentation models" in capsys.readouterr().out
    assert main(["train", "lenet5", "--scale", "2", "--out", str(tmp_path / "z")]) == 2
    assert "belong to the segmentation models" in capsys.readouterr().out


def test_unet_learns_nuclei_in_a_short_run(tmp_path):
    """A short run of the default U-Net recipe must beat chance on held-out crops: predicting
    background everywhere scores a nucleus IoU of 0."""
    from scratchnet.segmentation import train
    _, history, r = train("unet", epochs=3, out=str(tmp_path / "u"), progress=False,
                          log=None, width=0.125)
    assert r["class_iou"][1] > 0.3, r["class_iou"]


@pytest.mark.slow
@pytest.mark.parametrize("name, key, target", [
    # the bars; see the recipe notes in scratchnet.segmentation and README's table for
    # what the default runs measured
    ("fcn8s", "miou", 0.6),
    ("unet", "nucleus", 0.7)])
def test_default_recipes_reach_the_targets(tmp_path, name, key, target):
    from scratchnet.segmentation import train
    _, _, r = train(name, out=str(tmp_path / name), progress=False, log=None)
    value = r["miou"] if key == "miou" else r["class_iou"][1]
    assert value >= target, (name, value)


@pytest.mark.slow
def test_skip_fusion_lifts_fcn8s_well_above_fcn32s(tmp_path):
    """The paper's ordering where it holds with a margin on our data: with the same pretrained
    backbone and budget (scenes x2, 3 epochs, background weight 0.1), FCN-8s reached mIoU 0.251
    and FCN-32s 0.084 (FCN-16s 0.240: the 8s-16s step is not asserted, one seed cannot tell)."""
    from scratchnet.segmentation import train
    backbone = str(tmp_path / "backbone.npz")
    miou = {name: train(name, out=str(tmp_path / name), progress=False, log=None,
                        backbone=backbone, scale=2, epochs=3, bg_weight=0.1)[2]["miou"]
            for name in ("fcn32s", "fcn8s")}
    assert miou["fcn8s"] > miou["fcn32s"] + 0.1, miou


def test_lenet5_still_trains_through_the_shared_loop(tmp_path):
    rc = main(["train", "lenet5", "--limit", "64", "--epochs", "1", "--no-progress",
               "--out", str(tmp_path / "l")])
    assert rc == 0 and os.path.exists(tmp_path / "l" / "confusion.png")
