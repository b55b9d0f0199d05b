"""Faster R-CNN: the four losses, approximate joint training (no gradient through the
proposals), the detection contract in eval mode, the recipe behind `scratchnet detect train
faster_rcnn`, and (slow) the issue's bar on the held-out DigitScenes."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from scratchnet.detection import engine
from scratchnet.detection.recipes import get_recipe
from scratchnet.models.detection.faster_rcnn import FasterRCNN, faster_rcnn
from scratchnet.summary import summary

FOUR_LOSSES = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}


def _batch(n=2, seed=0):
    ds = engine.train_scenes(n, seed=seed)
    return engine.collate([ds[i] for i in range(n)])


def _grad_norm(p):
    g = p.grad
    if g is None:
        return 0.0
    return float(np.abs(g.data if hasattr(g, "data") else g).sum())


def test_training_returns_the_four_losses_of_deck_000():
    sn.manual_seed(0)
    model = faster_rcnn()
    model.train()
    images, targets = _batch()
    losses = model(images, targets)
    assert set(losses) == FOUR_LOSSES
    for v in losses.values():
        assert v.numel() == 1 and np.isfinite(v.item())
    # an untrained RPN is undecided: its objectness loss is close to log 2 (p = 1/2)
    assert abs(losses["loss_objectness"].item() - np.log(2)) < 0.01
    # and the untrained classifier close to log 11 (11 classes, almost uniform scores)
    assert abs(losses["loss_classifier"].item() - np.log(11)) < 0.05
    sum(losses.values()).backward()
    for p in (model.backbone.body[0].weight, model.rpn.head.conv.weight,
              model.rpn.head.cls_logits.weight, model.roi_heads.box_predictor.cls_score.weight):
        assert _grad_norm(p) > 0


def test_approximate_joint_training_sends_no_detector_gradient_through_the_proposals():
    # the detector's two losses reach the shared backbone, but not the RPN's box layer: the
    # proposals enter RoI pooling as constants
    sn.manual_seed(1)
    model = faster_rcnn()
    model.train()
    images, targets = _batch()
    losses = model(images, targets)
    (losses["loss_classifier"] + losses["loss_box_reg"]).backward()
    assert _grad_norm(model.backbone.body[0].weight) > 0
    assert _grad_norm(model.rpn.head.bbox_pred.weight) == 0
    assert _grad_norm(model.rpn.head.cls_logits.weight) == 0


def test_eval_follows_the_detection_contract():
    sn.manual_seed(2)
    model = faster_rcnn()
    model.eval()
    images, _ = _batch(3)
    with sn.no_grad():
        out = model(images)
    assert len(out) == 3
    for det in out:
        assert det["boxes"].dtype == np.float32 and det["boxes"].shape[1:] == (4,)
        assert det["scores"].dtype == np.float32 and det["labels"].dtype == np.int64
        assert len(det["boxes"]) == len(det["scores"]) == len(det["labels"]) <= 100
        if len(det["labels"]):
            assert det["labels"].min() >= 1 and det["labels"].max() <= 10
            assert det["boxes"].min() >= 0 and det["boxes"].max() <= 64
    # the RPN's proposals of the last call: at most post_nms_top_n (test) = 100 per image
    assert len(model.last_proposals) == 3
    assert all(len(p) <= 100 for p in model.last_proposals)


def test_rpn_head_of_the_paper_shows_54_channels_in_the_summary():
    model = faster_rcnn(rpn_two_class=True)
    s = summary(model.rpn.head, (64, 16, 16), verbose=False)
    channels = {r.name: r.output_shape[1] for r in s.rows}
    assert channels["cls_logits"] == 2 * 9 and channels["bbox_pred"] == 4 * 9
    assert model.rpn.head.out_channels == 9 * (4 + 2) == 54


def test_faster_rcnn_needs_targets_to_train_and_checks_shapes():
    model = faster_rcnn()
    model.train()
    with pytest.raises(ValueError, match="targets are needed"):
        model(sn.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="2 images but 1 targets"):
        model(sn.zeros(2, 1, 64, 64), [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0)}])
    with pytest.raises(ValueError, match="roi_pool must be"):
        faster_rcnn(roi_pool="warp")


def test_a_short_run_lowers_the_losses_it_trains():
    # 2 scenes seen 40 times: the RPN's two losses and the classifier's fall well below their
    # untrained values (a check that the four losses train together; the detector's box loss
    # may rise at first, as more proposals become foreground). The RPN's box loss swings
    # between 0.2 and 1.9 of its first value over the first 20 steps, so a single step's value
    # depends on the last bits of every sum: the mean of the last 5 steps is what is checked.
    sn.manual_seed(0)
    model = faster_rcnn()
    images, targets = _batch(2, seed=3)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    history = []
    for _ in range(40):
        losses = model(images, targets)
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    first = history[0]
    for k in ("loss_objectness", "loss_rpn_box_reg", "loss_classifier"):
        late = float(np.mean([h[k] for h in history[-5:]]))
        assert late < 0.5 * first[k], (k, first[k], late)


def test_recipe_builds_faster_rcnn_from_its_config():
    recipe = get_recipe("faster_rcnn")
    assert recipe.build(recipe.config()).backbone.stride == 2
    config = recipe.config({"rpn_two_class": True, "roi_pool": "align"})
    model = recipe.build(config)
    assert isinstance(model, FasterRCNN)
    assert model.rpn.head.out_channels == 54
    assert type(model.roi_heads.box_roi_pool).__name__ == "RoIAlign"


@pytest.mark.slow
def test_default_recipe_reaches_the_measured_map(tmp_path):
    """`scratchnet detect train faster_rcnn` with the default settings (stride-2 backbone,
    2,000 scenes, 12 epochs, Adam 1e-3): held-out mAP@0.5 on the 300 test scenes measured
    0.814 (about 6 minutes on one quiet thread); issue 14's bar is 0.8."""
    _, _, report = engine.train("faster_rcnn", out=str(tmp_path / "run"), progress=False,
                                log=None)
    assert report["map"] >= 0.8, report["map"]
