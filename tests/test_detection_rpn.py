"""Anchors and the Region Proposal Network (Faster R-CNN).

Expected anchors are worked out by hand from torchvision's definition (h = s sqrt(r),
w = s / sqrt(r), the box [-w/2, -h/2, w/2, h/2] rounded half to even, shifted by the stride);
labels from the IoUs of boxes chosen so that the IoU is a simple fraction; losses from the
documented formulas. Live tests compare the head, the flattening order, the anchor labels, the
proposal layer and the losses with a PyTorch transcription of torchvision's code paths,
written here (torchvision itself cannot be installed)."""
import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.models.detection._utils import BalancedPositiveNegativeSampler
from scratchnet.models.detection.anchor_utils import AnchorGenerator
from scratchnet.models.detection.rpn import (RegionProposalNetwork, RPNHead,
                                             concat_box_prediction_layers, default_rpn)
from scratchnet.summary import summary

SQ2 = math.sqrt(2)


def test_base_anchors_of_the_default_sizes_by_hand():
    # ratio 0.5: w = s sqrt 2, h = s / sqrt 2; s = 8: w/2 = 5.66 -> 6, h/2 = 2.83 -> 3;
    # s = 16: 11.31 -> 11, 5.66 -> 6; s = 32: 22.63 -> 23, 11.31 -> 11. Ratio 1: s/2.
    # Ratio 2 swaps width and height. Order: ratio-major, then size.
    expected = [[-6, -3, 6, 3], [-11, -6, 11, 6], [-23, -11, 23, 11],
                [-4, -4, 4, 4], [-8, -8, 8, 8], [-16, -16, 16, 16],
                [-3, -6, 3, 6], [-6, -11, 6, 11], [-11, -23, 11, 23]]
    g = AnchorGenerator()
    assert g.num_anchors_per_location() == [9]
    np.testing.assert_array_equal(g.cell_anchors[0], np.array(expected, np.float32))
    assert g.cell_anchors[0].dtype == np.float32


def test_base_anchors_round_halves_to_even_as_torch_round():
    # ratio 1, sizes 1, 3, 5: half-widths 0.5, 1.5, 2.5 -> 0, 2, 2 (torch.round, not 1, 2, 3)
    base = AnchorGenerator.generate_anchors([1, 3, 5], [1.0])
    np.testing.assert_array_equal(np.abs(base), [[0, 0, 0, 0], [2, 2, 2, 2], [2, 2, 2, 2]])


def test_anchors_are_shifted_by_the_stride_cell_by_cell():
    # one anchor [-2, -2, 2, 2] per cell; image 8x12, feature map 2x3: stride (4, 4); cells
    # in row-major order (y, then x), each anchor at the cell's top-left pixel
    g = AnchorGenerator(sizes=((4,),), aspect_ratios=((1.0,),))
    anchors = g(sn.zeros(2, 1, 8, 12), [sn.zeros(2, 5, 2, 3)])
    expected = [[x - 2, y - 2, x + 2, y + 2] for y in (0, 4) for x in (0, 4, 8)]
    assert len(anchors) == 2
    for a in anchors:
        np.testing.assert_array_equal(a, np.array(expected, np.float32))


def test_k_anchors_stay_together_per_cell_and_strides_floor():
    # image 10x13, feature 3x4: stride (10 // 3, 13 // 4) = (3, 3); two anchors per cell:
    # ratio 0.5 then 2 at size 4 -> [-3, -1, 3, 1] and [-1, -3, 1, 3] (2.83 -> 3, 1.41 -> 1)
    g = AnchorGenerator(sizes=((4,),), aspect_ratios=((0.5, 2.0),))
    a = g(sn.zeros(1, 1, 10, 13), [sn.zeros(1, 1, 3, 4)])[0]
    assert a.shape == (3 * 4 * 2, 4)
    # cell (y=2, x=1) is row (2 * 4 + 1) * 2 = 18 and 19; its shift is (3, 6)
    np.testing.assert_array_equal(a[18], [0, 5, 6, 7])
    np.testing.assert_array_equal(a[19], [2, 3, 4, 9])


def test_anchor_generator_rejects_mismatched_and_oversized_maps():
    with pytest.raises(ValueError, match="one entry per feature map"):
        AnchorGenerator(sizes=((8,), (16,)), aspect_ratios=((1.0,),) * 3)
    with pytest.raises(ValueError, match="larger than"):
        AnchorGenerator()(sn.zeros(1, 1, 8, 8), [sn.zeros(1, 1, 16, 16)])


def test_rpn_head_has_the_decks_54_channels_with_two_class_scores():
    head = RPNHead(16, 9, two_class=True)
    assert head.out_channels == 9 * (4 + 2) == 54
    assert RPNHead(16, 9).out_channels == 9 * (4 + 1) == 45
    s = summary(head, (16, 8, 8), verbose=False)
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["cls_logits"] == (1, 18, 8, 8) and shapes["bbox_pred"] == (1, 36, 8, 8)
    assert shapes["cls_logits"][1] + shapes["bbox_pred"][1] == 54
    # 3x3 conv C -> C, then 1x1 convs: (9 C + 1) C + (C + 1) 18 + (C + 1) 36 parameters
    assert s.total_params == (9 * 16 + 1) * 16 + 17 * 18 + 17 * 36


def test_anchor_labels_by_hand():
    # gt A = [0, 0, 10, 10] (area 100); gt B = [40, 40, 50, 50]
    anchors = np.array([[0, 0, 10, 10],      # IoU 1 with A          -> 1 (matched A)
                        [0, 0, 10, 8],       # 80 / 100 = 0.8 >= 0.7 -> 1 (A)
                        [0, 0, 10, 5],       # 50 / 100 = 0.5        -> -1 (ignored)
                        [0, 0, 10, 2],       # 20 / 100 = 0.2 < 0.3  -> 0
                        [20, 20, 30, 30],    # 0                     -> 0
                        [40, 40, 50, 45],    # 0.5, B's best anchor  -> 1 (B)
                        [45, 40, 55, 50]],   # 50 / 150 = 0.33       -> -1
                       np.float32)
    gt = np.array([[0, 0, 10, 10], [40, 40, 50, 50]], np.float32)
    rpn = default_rpn(4, sizes=((8,),), aspect_ratios=((1.0,),))
    labels, matched = rpn.assign_targets_to_anchors([anchors], [{"boxes": gt}])
    np.testing.assert_array_equal(labels[0], [1, 1, -1, 0, 0, 1, -1])
    np.testing.assert_array_equal(matched[0][[0, 1, 5]], gt[[0, 0, 1]])
    # an image without objects: every anchor is background
    labels, _ = rpn.assign_targets_to_anchors([anchors], [{"boxes": np.zeros((0, 4))}])
    np.testing.assert_array_equal(labels[0], np.zeros(7))


def test_rpn_losses_by_hand():
    # two anchors of one image: a positive with target t and a negative; the sampler takes
    # both (256 per image). BCE = mean(log(1 + e^-x1), log(1 + e^x2));
    # box: sum over the positive's 4 smooth-L1 terms (beta 1/9) / 2 sampled anchors.
    rpn = default_rpn(4, sizes=((8,),), aspect_ratios=((1.0,),))
    obj = sn.tensor(np.array([[0.5], [-1.0]], np.float64))
    deltas = sn.tensor(np.array([[0.0, 0.1, 0.05, -0.5], [9, 9, 9, 9]], np.float64))
    targets = np.array([[0.0, 0.0, 0.0, 0.0], [1, 1, 1, 1]], np.float64)
    labels = [np.array([1.0, 0.0], np.float32)]
    loss_obj, loss_box = rpn.compute_loss(obj, deltas, labels, [targets])
    bce = (math.log(1 + math.exp(-0.5)) + math.log(1 + math.exp(-1.0))) / 2
    beta = 1 / 9

    def sl1(d):
        return 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta
    box = (sl1(0.1) + sl1(0.05) + sl1(-0.5)) / 2
    assert abs(float(loss_obj.item()) - bce) < 1e-12
    assert abs(float(loss_box.item()) - box) < 1e-12


def test_two_class_head_equals_sigmoid_head_when_scores_differ_by_the_logit():
    # softmax(0, s)[1] = sigmoid(s), and the two-way cross-entropy on (0, s) is the binary
    # cross-entropy on s: a two-class head whose background score is 0 and object score is
    # the one-class head's logit gives the same proposals and the same objectness loss
    sn.manual_seed(3)
    images = sn.zeros(1, 1, 32, 32)
    features = sn.randn(1, 4, 4, 4)
    one = default_rpn(4, two_class=False, pre_nms_top_n={"training": 50, "testing": 50},
                      post_nms_top_n={"training": 20, "testing": 20})
    two = default_rpn(4, two_class=True, pre_nms_top_n={"training": 50, "testing": 50},
                      post_nms_top_n={"training": 20, "testing": 20})
    rng = np.random.default_rng(0)
    for m in (one.head.cls_logits, one.head.bbox_pred, one.head.conv):
        m.weight.data[...] = rng.normal(0, 0.3, m.weight.shape)
    two.head.conv.load_state_dict(one.head.conv.state_dict())
    two.head.bbox_pred.load_state_dict(one.head.bbox_pred.state_dict())
    w2 = np.zeros(two.head.cls_logits.weight.shape, np.float32)
    b2 = np.zeros(18, np.float32)
    w2[1::2] = one.head.cls_logits.weight.data
    b2[1::2] = one.head.cls_logits.bias.data
    two.head.cls_logits.weight.data[...] = w2
    two.head.cls_logits.bias.data[...] = b2
    target = [{"boxes": np.array([[4, 4, 20, 28]], np.float32)}]
    one.eval(), two.eval()
    with sn.no_grad():
        p1, _ = one(images, features)
        p2, _ = two(images, features)
    np.testing.assert_allclose(p1[0], p2[0], atol=1e-5)
    np.testing.assert_allclose(one.last_scores[0], two.last_scores[0], atol=1e-6)
    one.train(), two.train()
    one.fg_bg_sampler = BalancedPositiveNegativeSampler(256, 0.5, generator=1)
    two.fg_bg_sampler = BalancedPositiveNegativeSampler(256, 0.5, generator=1)
    _, l1 = one(images, features, target)
    _, l2 = two(images, features, target)
    assert abs(l1["loss_objectness"].item() - l2["loss_objectness"].item()) < 1e-5
    assert abs(l1["loss_rpn_box_reg"].item() - l2["loss_rpn_box_reg"].item()) < 1e-6


def test_proposal_layer_keeps_the_top_n_after_nms_by_hand():
    # three anchors' decoded boxes (zero deltas -> the anchors): two overlap with IoU
    # 80 / 120 = 0.67 (kept, <= 0.7) and one overlaps the best with 90 / 110 = 0.82
    # (suppressed); post_nms_top_n = 2 then keeps the best two.
    rpn = default_rpn(4, sizes=((8,),), aspect_ratios=((1.0,),), nms_thresh=0.7,
                      pre_nms_top_n={"training": 3, "testing": 3},
                      post_nms_top_n={"training": 2, "testing": 2})
    rpn.eval()
    props = np.array([[[0, 0, 10, 10], [0, 0, 10, 9], [2, 0, 12, 10], [30, 30, 31, 31]]],
                     np.float32)
    obj = np.array([[3.0, 2.0, 1.0, -5.0]], np.float32)
    boxes, scores = rpn.filter_proposals(props, obj, [(64, 64)], [4])
    # pre_nms_top_n = 3 drops the fourth; [0,0,10,9] is suppressed (IoU 0.9); kept 0 and 2
    np.testing.assert_array_equal(boxes[0], props[0, [0, 2]])
    np.testing.assert_allclose(scores[0], 1 / (1 + np.exp(-np.array([3.0, 1.0]))), rtol=1e-6)


def test_rpn_loss_gradient_reaches_the_features_float64():
    # the head, the flattening, the fancy indexing of sampled anchors and both losses as one
    # function of the feature map, checked against central differences
    sn.manual_seed(0)
    rpn = default_rpn(3, sizes=((6, 12),), aspect_ratios=((0.5, 1.0),),
                      pre_nms_top_n={"training": 20, "testing": 20},
                      post_nms_top_n={"training": 10, "testing": 10}).double()
    rng = np.random.default_rng(1)
    for p in rpn.parameters():
        p.data[...] = rng.normal(0, 0.3, p.shape)
    target = [{"boxes": np.array([[2, 3, 12, 15], [9, 1, 15, 8]], np.float32)}]
    images = sn.zeros(1, 1, 16, 16, dtype=sn.float64)
    rpn.train()

    def losses(features):
        rpn.fg_bg_sampler = BalancedPositiveNegativeSampler(256, 0.5, generator=0)
        _, out = rpn(images, features, target)
        return out["loss_objectness"] + 3.0 * out["loss_rpn_box_reg"]
    x = sn.tensor(rng.normal(size=(1, 3, 4, 4)), requires_grad=True)
    report = sn.gradcheck(losses, [x])
    assert report.passed, str(report)


def test_rpn_needs_targets_in_training_mode():
    rpn = default_rpn(4)
    rpn.train()
    with pytest.raises(ValueError, match="targets are needed"):
        rpn(sn.zeros(1, 1, 16, 16), sn.zeros(1, 4, 4, 4))


def test_rpn_rejects_a_head_with_another_k():
    with pytest.raises(ValueError, match="anchors per location"):
        RegionProposalNetwork(AnchorGenerator(), RPNHead(4, 3))


# Live comparisons with a PyTorch transcription of torchvision's RPN -----------------------
def _torch_rpn_parts(torch, head, features):
    """torchvision's RPNHead (conv3x3 + ReLU, two 1x1 convs) with our weights, and its
    permute_and_flatten / concat_box_prediction_layers."""
    tF = torch.nn.functional
    w = {k: torch.tensor(np.asarray(v.data, np.float64)) for k, v in head.state_dict().items()}
    x = torch.tensor(np.asarray(features.data, np.float64), requires_grad=True)
    t = tF.relu(tF.conv2d(x, w["conv.weight"], w["conv.bias"], padding=1))
    logits = tF.conv2d(t, w["cls_logits.weight"], w["cls_logits.bias"])
    deltas = tF.conv2d(t, w["bbox_pred.weight"], w["bbox_pred.bias"])

    def flat(layer, C):
        N, _, H, W = layer.shape
        A = deltas.shape[1] // 4
        return layer.view(N, -1, C, H, W).permute(0, 3, 4, 1, 2).reshape(N, -1, C)
    s = logits.shape[1] // (deltas.shape[1] // 4)
    return x, logits, deltas, flat(logits, s).flatten(0, -2), flat(deltas, 4).reshape(-1, 4)


@pytest.mark.parametrize("two_class", [False, True])
def test_rpn_head_and_flattening_match_torch(two_class):
    torch = pytest.importorskip("torch")
    sn.manual_seed(5)
    head = RPNHead(6, 9, two_class=two_class)
    rng = np.random.default_rng(2)
    for p in head.parameters():
        p.data[...] = rng.normal(0, 0.2, p.shape)
    feats = sn.tensor(rng.normal(size=(2, 6, 5, 7)).astype(np.float32), requires_grad=True)
    logits, deltas = head(feats)
    flat_cls, flat_reg = concat_box_prediction_layers([logits], [deltas], 2 if two_class else 1)
    x, t_logits, t_deltas, t_cls, t_reg = _torch_rpn_parts(torch, head, feats)
    assert logits.shape == tuple(t_logits.shape) == (2, 18 if two_class else 9, 5, 7)
    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(deltas.data, t_deltas.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(flat_cls.data, t_cls.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(flat_reg.data, t_reg.detach().numpy(), atol=1e-4)
    # input gradients of a random projection of both flattened outputs
    p_cls = rng.normal(size=flat_cls.shape)
    p_reg = rng.normal(size=flat_reg.shape)
    ((flat_cls * sn.tensor(p_cls.astype(np.float32))).sum()
     + (flat_reg * sn.tensor(p_reg.astype(np.float32))).sum()).backward()
    ((t_cls * torch.tensor(p_cls)).sum() + (t_reg * torch.tensor(p_reg)).sum()).backward()
    np.testing.assert_allclose(feats.grad.data if hasattr(feats.grad, "data") else feats.grad,
                               x.grad.numpy(), atol=1e-4)


def _torch_matcher(torch, quality, high, low):
    """torchvision's Matcher with allow_low_quality_matches=True."""
    matched_vals, matches = quality.max(dim=0)
    all_matches = matches.clone()
    matches[matched_vals < low] = -1
    matches[(matched_vals >= low) & (matched_vals < high)] = -2
    best = quality.max(dim=1).values
    preds = torch.where(quality == best[:, None])[1]
    matches[preds] = all_matches[preds]
    return matches


def test_rpn_proposals_labels_and_losses_match_torch():
    torch = pytest.importorskip("torch")
    from tests.torch_boxes import torch_batched_nms, torch_box_iou, torch_decode, torch_encode
    from scratchnet.data import DigitScenes

    sn.manual_seed(7)
    ds = DigitScenes("train", num_samples=2)
    images = sn.tensor(np.stack([ds[i][0] for i in range(2)]))
    targets = [ds[i][1] for i in range(2)]
    pre, post = 300, 60
    rpn = default_rpn(8, pre_nms_top_n={"training": pre, "testing": pre},
                      post_nms_top_n={"training": post, "testing": post})
    rng = np.random.default_rng(4)
    for p in rpn.parameters():
        p.data[...] = rng.normal(0, 0.1, p.shape)
    feats = sn.tensor(rng.normal(size=(2, 8, 16, 16)).astype(np.float32))
    rpn.train()
    rpn.fg_bg_sampler = BalancedPositiveNegativeSampler(256, 0.5, generator=11)
    boxes, losses = rpn(images, feats, targets)

    _, _, _, t_cls, t_reg = _torch_rpn_parts(torch, rpn.head, feats)
    anchors = torch.tensor(rpn.anchor_generator(images, feats)[0], dtype=torch.float64)
    n_anchors = len(anchors)
    assert n_anchors == 16 * 16 * 9
    obj = t_cls.detach().reshape(2, -1)
    props = torch_decode(torch, t_reg.detach(), anchors.repeat(2, 1), (1, 1, 1, 1)).reshape(
        2, -1, 4)
    for i in range(2):
        top = torch.sort(obj[i], descending=True, stable=True)[1][:pre]
        b, s = props[i][top], torch.sigmoid(obj[i][top])
        b = torch.stack([b[:, 0].clamp(0, 64), b[:, 1].clamp(0, 64), b[:, 2].clamp(0, 64),
                         b[:, 3].clamp(0, 64)], dim=1)
        ws, hs = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        keep = torch.where((ws >= 1e-3) & (hs >= 1e-3))[0]
        b, s = b[keep], s[keep]
        keep = torch_batched_nms(torch, b, s, torch.zeros(len(b), dtype=torch.int64), 0.7)
        keep = keep[:post]
        np.testing.assert_allclose(boxes[i], b[keep].numpy(), atol=1e-4)
        np.testing.assert_allclose(rpn.last_scores[i], s[keep].numpy(), atol=1e-4)

    # anchor labels and the two losses with the same sampled anchors
    labels, regression = [], []
    for t in targets:
        gt = torch.tensor(t["boxes"], dtype=torch.float64)
        m = _torch_matcher(torch, torch_box_iou(torch, gt, anchors), 0.7, 0.3)
        lab = (m >= 0).to(torch.float64)
        lab[m == -1] = 0.0
        lab[m == -2] = -1.0
        labels.append(lab)
        regression.append(torch_encode(torch, gt[m.clamp(min=0)], anchors, (1, 1, 1, 1)))
    ours, _ = rpn.assign_targets_to_anchors([a.numpy() for a in [anchors] * 2], targets)
    for a, b in zip(ours, labels):
        np.testing.assert_array_equal(a, b.numpy())
        assert (a == 1).sum() >= 1
    pos_masks, neg_masks = BalancedPositiveNegativeSampler(256, 0.5, generator=11)(ours)
    pos = torch.tensor(np.flatnonzero(np.concatenate(pos_masks)))
    sampled = torch.cat([pos, torch.tensor(np.flatnonzero(np.concatenate(neg_masks)))])
    labels, regression = torch.cat(labels), torch.cat(regression)
    tF = torch.nn.functional
    box = tF.smooth_l1_loss(t_reg[pos], regression[pos], beta=1 / 9,
                            reduction="sum") / sampled.numel()
    bce = tF.binary_cross_entropy_with_logits(t_cls.flatten()[sampled], labels[sampled])
    assert abs(losses["loss_rpn_box_reg"].item() - box.item()) < 1e-4
    assert abs(losses["loss_objectness"].item() - bce.item()) < 1e-4
