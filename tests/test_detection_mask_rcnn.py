"""Mask R-CNN: the mask head's shapes, the mask targets and the pasting worked by hand, the
mask loss against its per-RoI reference, gradient checks, a live PyTorch transcription of
head + targets + loss, the train/eval contract, mask AP in the engine, checkpoints, and
(slow) the issue's bar on the held-out overlapping DigitScenes."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import DigitScenes
from scratchnet.detection import engine
from scratchnet.detection.mask_rcnn import EightOrientations
from scratchnet.detection.recipes import get_recipe
from scratchnet.models.detection.backbone import ConvBackbone
from scratchnet.models.detection.mask_rcnn import (MaskRCNN, MaskRCNNHeads,
                                                   MaskRCNNPredictor, mask_rcnn,
                                                   maskrcnn_loss, maskrcnn_loss_reference,
                                                   paste_masks_in_image,
                                                   project_masks_on_boxes)

FIVE_LOSSES = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg",
               "loss_mask"}


def _small_model(**kw):
    return mask_rcnn(backbone=ConvBackbone(1, (8, 16)), mask_head_layers=(8, 8, 8, 8), **kw)


def _batch(n=2, seed=0):
    ds = DigitScenes("train", num_samples=n, seed=seed, overlap=True)
    return engine.collate([ds[i] for i in range(n)])


def _grad_norm(p):
    return 0.0 if p.grad is None else float(np.abs(p.grad.data).sum())


# ---------------------------------------------------------------- the head, by shape


def test_mask_branch_turns_14x14_roi_features_into_28x28_masks_one_per_class():
    sn.manual_seed(0)
    head = MaskRCNNHeads(32, (16, 16, 16, 16))
    predictor = MaskRCNNPredictor(16, 12, 11)
    x = sn.randn(3, 32, 14, 14)
    features = head(x)
    assert features.shape == (3, 16, 14, 14)
    assert [type(m).__name__ for m in head.children()] == ["Conv2d"] * 4
    assert all(getattr(head, f"mask_fcn{i}").weight.shape[2:] == (3, 3) for i in (1, 2, 3, 4))
    assert predictor.conv5_mask.weight.shape == (16, 12, 2, 2)      # (in, out, kH, kW)
    assert predictor.mask_fcn_logits.weight.shape == (11, 12, 1, 1)
    assert predictor(features).shape == (3, 11, 28, 28)
    # the paper's head: 256 channels throughout
    assert MaskRCNNHeads(256).out_channels == 256
    with pytest.raises(ValueError, match=r"MaskRCNNHeads: expected RoI features \(R, 32"):
        head(sn.randn(3, 8, 14, 14))
    with pytest.raises(ValueError, match="layers must be one or more"):
        MaskRCNNHeads(32, ())


# ---------------------------------------------------------------- targets and pasting by hand


def test_project_masks_on_boxes_by_hand():
    # an 8x8 mask whose column x = 3 is set; the whole image as RoI at M = 4: bins of 2
    # pixels, 2 samples each (adaptive: ceil(8 / 4)), at x = 2.5 and 3.5 for bin 1, each
    # halfway between column 3 and a neighbour: (0.5 + 0.5) / 2 = 0.5; bins 0, 2, 3 see 0
    line = np.zeros((8, 8), bool)
    line[:, 3] = True
    masks = np.stack([line, np.zeros((8, 8), bool)])
    t = project_masks_on_boxes(masks, np.array([[0, 0, 8, 8], [2, 0, 6, 8], [0, 0, 8, 8]]),
                               np.array([0, 0, 1]), 4)
    assert t.shape == (3, 4, 4) and t.dtype == np.float32
    np.testing.assert_allclose(t[0], np.tile([0.0, 0.5, 0.0, 0.0], (4, 1)), atol=1e-7)
    # RoI x in [2, 6] at M = 4: bins of 1 pixel, 1 sample each at 2.5, 3.5, 4.5, 5.5
    np.testing.assert_allclose(t[1], np.tile([0.5, 0.5, 0.0, 0.0], (4, 1)), atol=1e-7)
    # the third RoI is matched to the empty mask
    assert not t[2].any()
    # the top-left 4x4 quadrant at M = 2: bins of 4 pixels, ceil(8 / 2) = 4 samples per
    # axis at 0.5, 1.5, 2.5, 3.5; the last is halfway out of the quadrant, so each axis
    # averages (1 + 1 + 1 + 0.5) / 4 = 0.875 and the top-left bin 0.875^2 = 0.765625
    quad = np.zeros((1, 8, 8), bool)
    quad[0, :4, :4] = True
    np.testing.assert_allclose(project_masks_on_boxes(quad, [[0, 0, 8, 8]], [0], 2)[0],
                               [[0.765625, 0], [0, 0]], atol=1e-7)
    with pytest.raises(ValueError, match="matched_idxs must index the 1"):
        project_masks_on_boxes(quad, [[0, 0, 8, 8]], [1], 2)


def test_aligned_targets_are_not_shifted_by_half_a_pixel():
    # the RoI [3, 0, 4, 8] is exactly the set column x = 3, cut to 2x2: one sample per bin
    # along x (ceil(1 / 2)), bins half a pixel wide. torchvision (aligned=False) samples at
    # x = 3.25 and 3.75 with pixel k's value at x = k: 0.75 and 0.25, the target leans
    # right. aligned=True shifts the box by -0.5 (pixel k's centre is at k + 0.5): samples
    # at 2.75 and 3.25, both 0.75. Along y every sample lies inside the column: 1.
    line = np.zeros((1, 8, 8), bool)
    line[0, :, 3] = True
    box = np.array([[3, 0, 4, 8]])
    np.testing.assert_allclose(project_masks_on_boxes(line, box, [0], 2)[0],
                               [[0.75, 0.25], [0.75, 0.25]], atol=1e-7)
    np.testing.assert_allclose(project_masks_on_boxes(line, box, [0], 2, aligned=True)[0],
                               [[0.75, 0.75], [0.75, 0.75]], atol=1e-7)


def test_aligned_paste_by_hand():
    # [[1, 0], [0, 0]] in box [2, 2, 6, 6]: mask pixel 0 spans image [2, 4], its centre at
    # 3. Image pixel k (centre k + 0.5) reads mask position u = (k + 0.5 - 2) / 4 * 2 - 0.5
    # = k / 2 - 1.25, bilinearly, zero beyond the mask: k = 0..7 -> 0, 0.25, 0.75, 0.75,
    # 0.25, 0, 0, 0; thresholded at 0.5 exactly the pixels 2..3 of the mask's first cell
    masks = np.array([[[[1.0, 0.0], [0.0, 0.0]]]], np.float32)
    out = paste_masks_in_image(masks, np.array([[2, 2, 6, 6]]), (8, 8), aligned=True)
    row = np.array([0.0, 0.25, 0.75, 0.75, 0.25, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[0, 0], np.outer(row, row), atol=1e-7)
    # the same mask scaled into box [1, 0, 3, 4]: columns u = (k + 0.5 - 1) - 0.5 = k - 1,
    # rows u = (k + 0.5) / 2 - 0.5
    out = paste_masks_in_image(masks, np.array([[1, 0, 3, 4]]), (4, 4), aligned=True)
    cols = np.array([0.0, 1.0, 0.0, 0.0])
    rows = np.array([0.75, 0.75, 0.25, 0.0])
    np.testing.assert_allclose(out[0, 0], np.outer(rows, cols), atol=1e-7)


def test_mask_round_trip_keeps_small_digits_only_when_aligned():
    """A ground-truth mask cut to 28x28 and pasted back: pixel-exact with aligned=True,
    torchvision's semantics lose thin small digits (the figure in mask_rcnn's docstring)."""
    from scratchnet.metrics import mask_iou

    ds = DigitScenes("test", num_samples=20, overlap=True)
    result = {}
    for aligned in (False, True):
        ious = []
        for i in range(len(ds)):
            _, t = ds[i]
            p = project_masks_on_boxes(t["masks"], t["boxes"], np.arange(len(t["boxes"])),
                                       28, aligned=aligned)
            back = paste_masks_in_image(p[:, None], t["boxes"], (64, 64),
                                        aligned=aligned)[:, 0] > 0.5
            ious += [mask_iou(back[k:k + 1], t["masks"][k:k + 1])[0, 0]
                     for k in range(len(p))]
        result[aligned] = np.array(ious)
    assert result[True].min() > 0.95
    assert (result[False] >= 0.5).mean() < 0.8


# the 2x2 mask [[1, 0], [0, 0]] in box [2, 2, 5.5, 5.5] with padding 1: the padded 4x4 mask
# is u u^T, u = [0, 1, 0, 0]; the box widens by 4/2 around its centre 3.75 to [0.25, 7.25],
# truncated to [0, 7]: 8 pixels. Bilinear 4 -> 8 (align_corners=False) samples u at
# o / 2 - 0.25 (clamped at 0): o = 0..7 -> 0, 0.25, 0.75, 0.75, 0.25, 0, 0, 0
PASTED_ROW = np.array([0.0, 0.25, 0.75, 0.75, 0.25, 0.0, 0.0, 0.0])


def test_paste_masks_in_image_by_hand():
    masks = np.array([[[[1.0, 0.0], [0.0, 0.0]]]], np.float32)
    out = paste_masks_in_image(masks, np.array([[2, 2, 5.5, 5.5]]), (10, 10))
    assert out.shape == (1, 1, 10, 10) and out.dtype == np.float32
    expected = np.zeros((10, 10))
    expected[:8, :8] = np.outer(PASTED_ROW, PASTED_ROW)
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-7)
    # thresholded at 0.5 the mask is the 2x2 block of pixels (2..3, 2..3)
    assert set(zip(*np.nonzero(out[0, 0] > 0.5))) == {(2, 2), (2, 3), (3, 2), (3, 3)}
    # a 6x6 image keeps the part inside it
    small = paste_masks_in_image(masks, np.array([[2, 2, 5.5, 5.5]]), (6, 6))
    np.testing.assert_allclose(small[0, 0], expected[:6, :6], atol=1e-7)
    # two masks, each in its own box; none gives an empty stack
    two = paste_masks_in_image(np.concatenate([masks, masks]),
                               np.array([[2, 2, 5.5, 5.5], [4, 2, 7.5, 5.5]]), (10, 10))
    np.testing.assert_allclose(two[1, 0, :, 2:], expected[:, :8], atol=1e-7)
    assert paste_masks_in_image(np.zeros((0, 1, 28, 28)), np.zeros((0, 4)),
                                (5, 7)).shape == (0, 1, 5, 7)
    with pytest.raises(ValueError, match=r"masks \(N, 1, M, M\) and boxes"):
        paste_masks_in_image(masks[:, 0], np.array([[2, 2, 5.5, 5.5]]), (10, 10))


# ---------------------------------------------------------------- the loss


def _loss_case(rng, dtype=np.float64):
    """Two images, 5 positive RoIs, 4 classes, M = 6."""
    gt_masks = [rng.random((2, 16, 16)) > 0.5, rng.random((3, 16, 16)) > 0.4]
    gt_labels = [np.array([1, 3]), np.array([2, 2, 1])]
    proposals = [np.array([[0, 0, 10, 12], [3.5, 2, 15, 9.25]], np.float32),
                 np.array([[1, 1, 7, 7], [2, 0, 16, 16], [5.2, 6.1, 11.7, 14.3]], np.float32)]
    matched = [np.array([1, 0]), np.array([2, 0, 1])]
    logits = rng.normal(size=(5, 4, 6, 6)).astype(dtype)
    return logits, proposals, gt_masks, gt_labels, matched


def test_mask_loss_agrees_with_the_per_roi_reference():
    rng = np.random.default_rng(0)
    logits, proposals, gt_masks, gt_labels, matched = _loss_case(rng)
    loss = maskrcnn_loss(sn.tensor(logits), proposals, gt_masks, gt_labels, matched)
    labels = np.array([3, 1, 1, 2, 2])
    targets = np.concatenate([project_masks_on_boxes(m, p, i, 6)
                              for m, p, i in zip(gt_masks, proposals, matched)])
    ref = maskrcnn_loss_reference(logits, labels, targets)
    assert abs(loss.item() - ref) < 1e-12
    # the soft targets are not all 0 or 1 (RoIAlign interpolates at the mask's edges)
    assert ((targets > 0) & (targets < 1)).any()


def test_mask_loss_looks_only_at_the_ground_truth_class_channel():
    rng = np.random.default_rng(1)
    logits, proposals, gt_masks, gt_labels, matched = _loss_case(rng)
    x = sn.tensor(logits, requires_grad=True)
    maskrcnn_loss(x, proposals, gt_masks, gt_labels, matched).backward()
    g = np.abs(x.grad.data).sum(axis=(2, 3))               # (R, K)
    labels = [3, 1, 1, 2, 2]
    for r, k in enumerate(labels):
        assert g[r, k] > 0
        assert np.all(np.delete(g[r], k) == 0)
    # and changing another class's logits changes nothing
    other = logits.copy()
    other[np.arange(5), 0] += 100.0
    assert maskrcnn_loss(sn.tensor(other), proposals, gt_masks, gt_labels,
                         matched).item() == maskrcnn_loss(sn.tensor(logits), proposals,
                                                           gt_masks, gt_labels, matched).item()


def test_mask_loss_gradcheck_float64():
    rng = np.random.default_rng(2)
    logits, proposals, gt_masks, gt_labels, matched = _loss_case(rng)
    r = sn.gradcheck(lambda z: maskrcnn_loss(z, proposals, gt_masks, gt_labels, matched),
                     [sn.tensor(logits, requires_grad=True)])
    assert r.passed, r


def test_mask_head_gradcheck_float64():
    """RoIAlign -> four convs -> deconv -> 1x1 conv -> loss, differentiated to the feature
    map and the first conv's weight."""
    sn.manual_seed(0)
    head, pred = MaskRCNNHeads(2, (3, 3, 3, 3)), MaskRCNNPredictor(3, 2, 3)
    head.double()
    pred.double()
    rng = np.random.default_rng(3)
    features = sn.tensor(rng.normal(size=(1, 2, 5, 6)), requires_grad=True)
    boxes = [np.array([[0, 0, 9, 7], [2.5, 3, 11, 10]], np.float64)]
    gt_masks = [rng.random((2, 10, 12)) > 0.5]
    w = sn.tensor(head.mask_fcn1.weight.data, requires_grad=True)

    def g(feat, w1):
        x = sn.ops.roi_align(feat, boxes, 3, 0.5, sampling_ratio=2)
        x = sn.nn.functional.conv2d(x, w1, head.mask_fcn1.bias, padding=1).relu()
        for i in (2, 3, 4):
            x = getattr(head, f"mask_fcn{i}")(x).relu()
        return maskrcnn_loss(pred(x), boxes, gt_masks, [np.array([1, 2])],
                             [np.array([1, 0])])

    r = sn.gradcheck(g, [features, w])
    assert r.passed, r


def test_mask_head_and_loss_match_a_pytorch_transcription():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    sn.manual_seed(4)
    head, pred = MaskRCNNHeads(4, (6, 6, 6, 6)), MaskRCNNPredictor(6, 5, 3)
    head.double()
    pred.double()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 14, 14))
    # ground-truth masks of 28x28 and the whole mask as RoI: with aligned=False and one
    # sample per bin at pixel + 0.5, each target pixel is the mean of a 2x2 block (the
    # last row and column repeated at the border), written in torch below
    gt = rng.random((2, 28, 28)) > 0.5
    box = np.array([[0, 0, 28, 28]] * 3, np.float64)
    matched, gt_labels = np.array([1, 0, 1]), np.array([2, 1])

    xs = sn.tensor(x, requires_grad=True)
    loss = maskrcnn_loss(pred(head(xs)), [box], [gt], [gt_labels], [matched])
    loss.backward()

    params = {n: torch.tensor(p.data, requires_grad=True)
              for n, p in list(head.named_parameters()) + [
                  ("p." + n, p) for n, p in pred.named_parameters()]}
    xt = torch.tensor(x, requires_grad=True)
    h = xt
    for i in (1, 2, 3, 4):
        h = tF.relu(tF.conv2d(h, params[f"mask_fcn{i}.weight"], params[f"mask_fcn{i}.bias"],
                              padding=1))
    h = tF.relu(tF.conv_transpose2d(h, params["p.conv5_mask.weight"],
                                    params["p.conv5_mask.bias"], stride=2))
    logits = tF.conv2d(h, params["p.mask_fcn_logits.weight"], params["p.mask_fcn_logits.bias"])
    m = tF.pad(torch.tensor(gt, dtype=torch.float64)[:, None], (0, 1, 0, 1),
               mode="replicate")
    targets = tF.avg_pool2d(m, 2, stride=1)[:, 0][torch.tensor(matched)]
    labels = torch.tensor(gt_labels[matched])
    tloss = tF.binary_cross_entropy_with_logits(logits[torch.arange(3), labels], targets)
    tloss.backward()

    assert abs(loss.item() - tloss.item()) < 1e-12
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours = dict(head.named_parameters())
    ours.update({"p." + n: p for n, p in pred.named_parameters()})
    for name, p in ours.items():
        np.testing.assert_allclose(p.grad.data, params[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- the model


def test_training_returns_five_losses_and_the_mask_loss_trains_the_shared_backbone():
    sn.manual_seed(0)
    model = _small_model()
    assert isinstance(model, MaskRCNN)
    model.train()
    images, targets = _batch()
    losses = model(images, targets)
    assert set(losses) == FIVE_LOSSES
    for v in losses.values():
        assert v.numel() == 1 and np.isfinite(v.item())
    losses["loss_mask"].backward()
    # the mask loss reaches the mask branch and the backbone, not the box branch or the RPN
    assert _grad_norm(model.roi_heads.mask_head.mask_fcn1.weight) > 0
    assert _grad_norm(model.roi_heads.mask_predictor.mask_fcn_logits.weight) > 0
    assert _grad_norm(model.backbone.body[0].weight) > 0
    assert _grad_norm(model.roi_heads.box_predictor.cls_score.weight) == 0
    assert _grad_norm(model.rpn.head.cls_logits.weight) == 0


def test_training_needs_masks():
    model = _small_model()
    model.train()
    images, targets = _batch(1)
    del targets[0]["masks"]
    with pytest.raises(ValueError, match="'masks'"):
        model(images, targets)


def test_eval_adds_mask_probabilities_pasted_in_the_image():
    sn.manual_seed(2)
    model = _small_model()
    model.eval()
    images, _ = _batch(2)
    with sn.no_grad():
        out = model(images)
    assert len(out) == 2
    for det in out:
        k = len(det["boxes"])
        assert k > 0
        assert det["masks"].shape == (k, 1, 64, 64) and det["masks"].dtype == np.float32
        assert det["masks"].min() >= 0 and det["masks"].max() <= 1
        # nothing outside the box widened by 30/28 (padding 1 of 28) and one pixel more
        for box, mask in zip(det["boxes"], det["masks"][:, 0]):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            hw, hh = (box[2] - box[0]) / 2 * 30 / 28, (box[3] - box[1]) / 2 * 30 / 28
            ys, xs = np.nonzero(mask)
            if len(xs):
                assert xs.min() >= np.floor(cx - hw) - 1 and xs.max() <= cx + hw + 1
                assert ys.min() >= np.floor(cy - hh) - 1 and ys.max() <= cy + hh + 1


def test_mask_roi_pool_is_the_ablation_switch():
    align, pool = _small_model(), _small_model(mask_roi_pool="pool")
    assert type(align.roi_heads.mask_roi_pool).__name__ == "RoIAlign"
    assert type(pool.roi_heads.mask_roi_pool).__name__ == "RoIPool"
    # only the mask branch changes: same box branch, same parameters
    assert type(pool.roi_heads.box_roi_pool).__name__ == "RoIAlign"
    assert pool.roi_heads.mask_roi_pool.output_size == 14
    assert [n for n, _ in align.named_parameters()] == [n for n, _ in pool.named_parameters()]
    with pytest.raises(ValueError, match="mask_roi_pool must be 'pool'"):
        _small_model(mask_roi_pool="warp")
    # pixel-edge mask targets and pasting by default; torchvision's with mask_aligned=False
    assert align.roi_heads.mask_aligned is True
    assert _small_model(mask_aligned=False).roi_heads.mask_aligned is False
    recipe = get_recipe("mask_rcnn")
    assert recipe.build(recipe.config({"mask_aligned": False})).roi_heads.mask_aligned is False


# ---------------------------------------------------------------- engine, recipe, checkpoints


class _Oracle(nn.Module):
    """Returns the ground truth of a fixed dataset as detections (score 1), with its masks
    as probabilities 0.9 / 0.1, or shifted right by `shift` pixels."""

    def __init__(self, dataset, shift=0):
        super().__init__()
        self.dataset, self.shift, self.calls = dataset, shift, 0

    def forward(self, images, targets=None):
        out = []
        for _ in range(images.shape[0]):
            _, t = self.dataset[self.calls]
            self.calls += 1
            m = np.roll(t["masks"], self.shift, axis=-1)[:, None]
            out.append({"boxes": t["boxes"], "labels": t["labels"],
                        "scores": np.ones(len(t["labels"]), np.float32),
                        "masks": np.where(m, 0.9, 0.1).astype(np.float32)})
        return out


def test_evaluate_reports_mask_ap_when_the_model_outputs_masks():
    ds = DigitScenes("test", num_samples=6, overlap=True)
    report = engine.evaluate(_Oracle(ds), ds)
    assert report["map"] == 1.0 and report["mask_map"] == 1.0
    assert report["mask_coco_map"] == 1.0 and report["mask_coco_map_50"] == 1.0
    # masks moved 3 pixels: the boxes are still right, most thin digit masks are not
    shifted = engine.evaluate(_Oracle(ds, shift=3), ds)
    assert shifted["map"] == 1.0 and shifted["mask_map"] < 0.5


def test_draw_detections_paints_masks():
    image = np.zeros((1, 16, 16), np.float32)
    mask = np.zeros((1, 1, 16, 16), np.float32)
    mask[0, 0, 4:8, 4:8] = 0.8
    det = {"boxes": np.array([[2, 2, 12, 12]], np.float32),
           "scores": np.array([0.9], np.float32), "labels": np.array([1]), "masks": mask}
    pic = engine.draw_detections(image, det, scale=2)
    assert pic[:, 12, 12].any()            # inside the mask (2x scale)
    assert not pic[:, 20, 20].any()        # inside the box, outside the mask


def test_recipe_builds_from_its_config_and_the_checkpoint_round_trips(tmp_path):
    recipe = get_recipe("mask_rcnn")
    config = recipe.config({"widths": [8, 16], "mask_head_width": 8, "num_test": 2})
    assert config["overlap"] is True and config["mask_roi_pool"] == "align"
    model = recipe.build(config)
    assert model.roi_heads.mask_predictor.num_classes == 11
    sn.manual_seed(5)
    for p in model.parameters():
        p.data[...] = np.random.default_rng(p.numel()).normal(0, 0.1, p.shape)
    _, held_out = recipe.datasets(config, train=False)
    assert held_out.overlap and len(held_out) == 2
    images, _ = engine.collate([held_out[0], held_out[1]])
    before = engine.predict(model, images)
    path = engine.save_checkpoint(tmp_path / "c.npz", model, "mask_rcnn", config,
                                  mask_map=0.5)
    loaded, meta = engine.load_checkpoint(path)
    after = engine.predict(loaded, images)
    assert meta["mask_map"] == 0.5 and isinstance(loaded, MaskRCNN)
    for a, b in zip(before, after):
        assert len(a["boxes"]) and set(a) == set(b) >= {"boxes", "scores", "labels", "masks"}
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    nuclei = recipe.config({"data": "nuclei"})
    assert recipe.build(nuclei).roi_heads.mask_predictor.num_classes == 2
    assert recipe.class_names(nuclei) == ["background", "nucleus"]
    with pytest.raises(engine.DetectionError, match="data must be one of"):
        recipe.build(recipe.config({"data": "coco"}))


def test_eight_orientations_turn_images_masks_and_boxes_together():
    ds = DigitScenes("train", num_samples=1, overlap=True)
    eight = EightOrientations(ds)
    assert len(eight) == 8
    image, target = ds[0]
    turned, t1 = eight[1]                   # one quarter turn, counter-clockwise
    np.testing.assert_array_equal(turned[0], np.rot90(image[0]))
    np.testing.assert_array_equal(t1["masks"][0], np.rot90(target["masks"][0]))
    # a box [x1, y1, x2, y2] in an S-wide image turns into [y1, S - x2, y2, S - x1]
    x1, y1, x2, y2 = target["boxes"][0]
    np.testing.assert_array_equal(t1["boxes"][0], [y1, 64 - x2, y2, 64 - x1])
    mirrored, t4 = eight[4]
    np.testing.assert_array_equal(mirrored[0], image[0, :, ::-1])
    np.testing.assert_array_equal(t4["boxes"][0], [64 - x2, y1, 64 - x1, y2])


@pytest.mark.slow
def test_default_recipe_reaches_the_mask_ap_bar(tmp_path):
    """`scratchnet detect train mask_rcnn` with the default settings (4,000 scenes, 8
    epochs): held-out mask AP@0.5 on the 300 overlapping test scenes measured 0.617 and box
    mAP@0.5 0.748 (27 minutes on one thread of a loaded machine). The issue's bar is 0.6."""
    _, _, report = engine.train("mask_rcnn", out=str(tmp_path / "run"), progress=False,
                                log=None)
    assert report["mask_map"] >= 0.6, report["mask_map"]
    assert report["map"] >= 0.7, report["map"]
