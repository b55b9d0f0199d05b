"""YOLO v1: the paper's network and its parameter count, the grid shape, the loss (worked by
hand on one cell, reference vs vectorised, float64 gradient check, a torch transcription of
the paper's equation written here), decoding with the test-time score, and the contract."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.models.detection import yolo_v1 as Y


def conv_params(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def paper_parameter_count():
    """Figure 3 of Redmon et al. (2016), layer by layer (bias on every layer)."""
    convs = [(3, 64, 7), (64, 192, 3),
             (192, 128, 1), (128, 256, 3), (256, 256, 1), (256, 512, 3)]
    convs += [(512, 256, 1), (256, 512, 3)] * 4 + [(512, 512, 1), (512, 1024, 3)]
    convs += [(1024, 512, 1), (512, 1024, 3)] * 2 + [(1024, 1024, 3)] * 4
    assert len(convs) == 24
    fc = (7 * 7 * 1024 * 4096 + 4096) + (4096 * 7 * 7 * 30 + 7 * 7 * 30)
    return sum(conv_params(*c) for c in convs) + fc


def random_targets(rng, n, size=64, C=10, k=(1, 4)):
    out = []
    for _ in range(n):
        m = int(rng.integers(k[0], k[1] + 1))
        xy = rng.uniform(0, size * 0.7, (m, 2))
        wh = rng.uniform(3, size * 0.3, (m, 2))
        out.append({"boxes": np.concatenate([xy, np.minimum(xy + wh, size)], 1)
                    .astype(np.float32), "labels": rng.integers(1, C + 1, m)})
    return out


@pytest.mark.slow   # 1.1 GB of weights to initialise: about 10 s
def test_paper_network_has_24_convolutions_2_fc_and_its_parameter_count():
    assert paper_parameter_count() == 271_703_550
    model = Y.yolo_v1()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert (len(convs), len(fcs)) == (24, 2)
    assert len(leaky) == 25 and all(m.negative_slope == 0.1 for m in leaky)
    assert sum(p.numel() for p in model.parameters()) == 271_703_550
    assert (model.S, model.B, model.C) == (7, 2, 20)


def test_summary_shows_the_7x7x30_grid():
    # the grid's shape does not depend on the convolutions' width: a 1/32-wide copy runs fast
    model = Y.yolo_v1(width=1 / 32)
    s = sn.summary(model, (3, 448, 448), verbose=False)
    last = s.rows[-1]
    assert last.type == "GridReshape" and last.output_shape == (1, 7, 7, 30)
    fc_in = [r for r in s.rows if r.type == "Conv2d"][-1].output_shape
    assert fc_in == (1, 32, 7, 7)


def test_small_version_on_64x64_scenes():
    model = Y.yolo_v1_small(num_classes=11, S=7, B=2)
    model.eval()
    out = model.grid(sn.randn(2, 1, 64, 64))
    assert tuple(out.shape) == (2, 7, 7, 2 * 5 + 10)
    with pytest.raises(ValueError, match="8, 8"):
        model.grid(sn.randn(1, 1, 48, 48))


def test_cell_by_cell_head_gives_the_same_grid():
    model = Y.yolo_v1_small(num_classes=11, S=8, head="conv", hidden=32)
    model.eval()
    x = sn.randn(2, 1, 64, 64)
    out = model.grid(x)
    assert tuple(out.shape) == (2, 8, 8, 20)
    # cell (i, j) sees only the feature vector at (i, j): the 1x1 layers by hand
    f = model.features(x).data                                    # (2, 128, 8, 8)
    w1, b1 = model.head[0].weight.data[:, :, 0, 0], model.head[0].bias.data
    w2, b2 = model.head[3].weight.data[:, :, 0, 0], model.head[3].bias.data
    h = f[1, :, 2, 5] @ w1.T + b1
    h = np.where(h > 0, h, 0.1 * h)
    np.testing.assert_allclose(out.data[1, 2, 5], h @ w2.T + b2, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="S = 7"):
        Y.yolo_v1_small(S=7, head="conv")


def test_fold_batch_norm_worked_by_hand():
    # one output channel, a 1x1 conv with weight 2 and bias 1, then BatchNorm with
    # gamma 3, beta 0.5, running mean 4, running variance 0.25 (eps 0): for an input x,
    # bn(conv(x)) = 3 * (2x + 1 - 4) / 0.5 + 0.5 = 12x - 17.5
    conv, bn = nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1, eps=0.0)
    conv.weight.data[...] = 2.0
    conv.bias.data[...] = 1.0
    bn.weight.data[...], bn.bias.data[...] = 3.0, 0.5
    bn.running_mean.data[...], bn.running_var.data[...] = 4.0, 0.25
    weight, bias = Y.fold_batch_norm(conv, bn)
    assert weight.reshape(-1).tolist() == [12.0] and bias.tolist() == [-17.5]
    assert weight.dtype == np.float32 and bias.dtype == np.float32


def test_test_time_grid_with_batch_norm_folded_is_the_same_grid():
    sn.manual_seed(3)
    model = Y.yolo_v1_small(num_classes=11, S=8, head="conv", hidden=32)
    x = sn.randn(4, 1, 64, 64)
    model.train()
    model.grid(x)            # running statistics away from 0 and 1
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data[...] = np.linspace(0.5, 2.0, m.num_features)
    model.eval()
    plain = model.grid(x).data                      # gradients on: module by module
    with sn.no_grad():
        folded = model.grid(x).data                 # each BatchNorm folded into its conv
    assert np.abs(plain).max() > 0.1
    np.testing.assert_allclose(folded, plain, rtol=1e-4, atol=1e-5)


def test_one_cell_worked_by_hand():
    # S=1, B=2, C=2 on a 10x10 image; object: box (2, 2, 8, 6), label 2 (class slot 1)
    # centre (5, 4) -> x = 0.5, y = 0.4 (cell units, one cell); w = 0.6, h = 0.4
    out = np.zeros((1, 1, 1, 12))
    out[0, 0, 0, 0:5] = [0.5, 0.4, 0.6 ** 0.5, 0.4 ** 0.5, 0.9]   # box 0: exactly the object
    out[0, 0, 0, 5:10] = [0.5, 0.5, 0.2, 0.2, 0.3]                # box 1: a 0.04 x 0.04 box
    out[0, 0, 0, 10:12] = [0.2, 0.7]
    t = [{"boxes": np.array([[2.0, 2.0, 8.0, 6.0]]), "labels": np.array([2])}]
    for fn in (Y.yolo_v1_loss_reference,
               lambda o, *a: {k: float(v.data) for k, v in Y.yolo_v1_loss(
                   sn.tensor(o), *a).items()}):
        loss = fn(out, t, 2, 2, (10, 10))
        # box 0 has IoU 1: responsible, no coordinate error, confidence target 1
        assert loss["loss_coord"] == pytest.approx(0.0, abs=1e-12)
        assert loss["loss_obj"] == pytest.approx((1 - 0.9) ** 2)
        assert loss["loss_noobj"] == pytest.approx(0.5 * 0.3 ** 2)
        assert loss["loss_class"] == pytest.approx(0.2 ** 2 + (1 - 0.7) ** 2)
    # now box 1 sits on the object but 1 pixel too wide: it has the higher IoU and takes it
    out[0, 0, 0, 0:5] = [0.0, 0.0, 0.1, 0.1, 0.9]
    out[0, 0, 0, 5:10] = [0.55, 0.4, 0.7 ** 0.5, 0.4 ** 0.5, 0.3]
    loss = Y.yolo_v1_loss_reference(out, t, 2, 2, (10, 10))
    iou = (6 * 4) / (7 * 4)        # box 1 = (2.0, 2.0, 9.0, 6.0) in pixels
    assert loss["loss_coord"] == pytest.approx(5 * (0.05 ** 2 + (0.7 ** 0.5 - 0.6 ** 0.5) ** 2))
    assert loss["loss_obj"] == pytest.approx((iou - 0.3) ** 2)
    assert loss["loss_noobj"] == pytest.approx(0.5 * 0.9 ** 2)


def test_two_centres_in_one_cell_the_larger_keeps_it():
    t = [{"boxes": np.array([[0, 0, 4, 4], [1, 1, 30, 30], [40, 40, 60, 60.0]]),
          "labels": np.array([1, 2, 3])}]
    # S=2 on 64 px: centres (2, 2) and (15.5, 15.5) share cell (0, 0); (50, 50) is in (1, 1)
    obj, gt, label, dropped = Y.assign_cells(t, 2, 3, (64, 64))
    assert dropped == 1
    assert obj.tolist() == [[[True, False], [False, True]]]
    assert label[0, 0, 0] == 2 and label[0, 1, 1] == 3
    np.testing.assert_allclose(gt[0, 0, 0], np.array([1, 1, 30, 30]) / 64)


@pytest.mark.parametrize("S,B,C", [(7, 2, 10), (3, 3, 4)])
def test_vectorised_loss_agrees_with_the_reference(S, B, C):
    rng = np.random.default_rng(S)
    out = rng.normal(0.4, 0.3, (5, S, S, B * 5 + C))
    targets = random_targets(rng, 5, C=C)
    targets[0] = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)}   # no object
    ref = Y.yolo_v1_loss_reference(out, targets, B, C, (64, 64))
    fast = Y.yolo_v1_loss(sn.tensor(out), targets, B, C, (64, 64))
    assert ref["loss_coord"] > 0 and ref["loss_obj"] > 0
    for k in ref:
        assert float(fast[k].data) == pytest.approx(ref[k], rel=1e-12, abs=1e-12), k


def test_float32_stays_float32():
    out = sn.randn(2, 7, 7, 20)
    loss = Y.yolo_v1_loss(out, random_targets(np.random.default_rng(0), 2), 2, 10, (64, 64))
    assert all(v.dtype == np.float32 for v in loss.values())


def test_loss_gradcheck_float64():
    rng = np.random.default_rng(1)
    out = sn.tensor(rng.normal(0.4, 0.3, (3, 4, 4, 2 * 5 + 3)), requires_grad=True)
    targets = random_targets(rng, 3, C=3)
    matched = Y.match(out.data, targets, 2, 3, (64, 64))
    assert matched["resp"].any()

    def total(o):
        loss = Y.yolo_v1_loss(o, targets, 2, 3, (64, 64), matched=matched)
        return loss["loss_coord"] + loss["loss_obj"] + loss["loss_noobj"] + loss["loss_class"]

    report = sn.gradcheck(lambda o: Y.yolo_v1_loss(o, targets, 2, 3, (64, 64),
                                                   matched=matched)["loss_coord"], [out])
    assert report.passed, report
    report = sn.gradcheck(total, [out])
    assert report.passed, report


def torch_yolo_v1_loss(torch, out, targets, S, B, C, size):
    """Equation (3) of the paper transcribed into torch, object by object: own cell
    assignment (the larger box keeps a shared cell), own IoU, own responsible predictor."""
    H, W = size
    N = out.shape[0]
    coord = out.new_zeros(())
    obj_t, noobj_t, cls_t = out.new_zeros(()), out.new_zeros(()), out.new_zeros(())
    for n in range(N):
        owner = {}
        for box, lab in zip(targets[n]["boxes"], targets[n]["labels"]):
            x1, y1, x2, y2 = (float(box[0]) / W, float(box[1]) / H, float(box[2]) / W,
                              float(box[3]) / H)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            i, j = min(int(cy * S), S - 1), min(int(cx * S), S - 1)
            area = (x2 - x1) * (y2 - y1)
            if (i, j) not in owner or area > owner[(i, j)][0]:
                owner[(i, j)] = (area, (x1, y1, x2, y2, cx, cy), int(lab))
        responsible = set()
        for (i, j), (_, (x1, y1, x2, y2, cx, cy), lab) in owner.items():
            v = out[n, i, j]
            ious = []
            for b in range(B):
                px, py = (j + v[5 * b]) / S, (i + v[5 * b + 1]) / S
                pw, ph = v[5 * b + 2] ** 2, v[5 * b + 3] ** 2
                iw = (torch.minimum(px + pw / 2, torch.tensor(x2, dtype=out.dtype))
                      - torch.maximum(px - pw / 2, torch.tensor(x1, dtype=out.dtype))
                      ).clamp(min=0)
                ih = (torch.minimum(py + ph / 2, torch.tensor(y2, dtype=out.dtype))
                      - torch.maximum(py - ph / 2, torch.tensor(y1, dtype=out.dtype))
                      ).clamp(min=0)
                inter = iw * ih
                ious.append((inter / (pw * ph + (x2 - x1) * (y2 - y1) - inter)).detach())
            r = int(torch.stack(ious).argmax())
            responsible.add((i, j, r))
            x, y = cx * S - j, cy * S - i
            coord = coord + 5 * ((x - v[5 * r]) ** 2 + (y - v[5 * r + 1]) ** 2
                                 + ((x2 - x1) ** 0.5 - v[5 * r + 2]) ** 2
                                 + ((y2 - y1) ** 0.5 - v[5 * r + 3]) ** 2)
            obj_t = obj_t + (ious[r] - v[5 * r + 4]) ** 2
            onehot = torch.zeros(C, dtype=out.dtype)
            onehot[lab - 1] = 1
            cls_t = cls_t + ((onehot - v[5 * B:]) ** 2).sum()
        for i in range(S):
            for j in range(S):
                for b in range(B):
                    if (i, j, b) not in responsible:
                        noobj_t = noobj_t + 0.5 * out[n, i, j, 5 * b + 4] ** 2
    return {"loss_coord": coord / N, "loss_obj": obj_t / N, "loss_noobj": noobj_t / N,
            "loss_class": cls_t / N}


def test_loss_matches_a_torch_transcription():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    S, B, C = 7, 2, 10
    data = rng.normal(0.4, 0.3, (4, S, S, B * 5 + C))
    targets = random_targets(rng, 4, C=C)
    targets[1]["boxes"] = np.array([[1, 1, 5, 5], [2, 2, 8, 8], [30, 30, 60, 50]], np.float32)
    targets[1]["labels"] = np.array([1, 2, 3])      # two centres share cell (0, 0)
    ours = sn.tensor(data, requires_grad=True)
    loss = Y.yolo_v1_loss(ours, targets, B, C, (64, 64))
    theirs = torch.tensor(data, requires_grad=True)
    ref = torch_yolo_v1_loss(torch, theirs, targets, S, B, C, (64, 64))
    for k in ref:
        r = float(ref[k].detach())
        assert abs(float(loss[k].data) - r) <= 1e-6 * max(1.0, abs(r)), k
    w = rng.standard_normal(4)
    sum(float(wk) * loss[k] for wk, k in zip(w, ref)).backward()
    sum(float(wk) * ref[k] for wk, k in zip(w, ref)).backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=0, atol=1e-6)


def test_decode_uses_class_probability_times_confidence():
    # S=2, B=2, C=3 on a 64x64 image; cell (row 1, col 0), box 0 centred in it, 16x32 px
    out = np.zeros((1, 2, 2, 13), np.float32)
    out[0, 1, 0, 0:5] = [0.5, 0.5, 0.25 ** 0.5, 0.5 ** 0.5, 0.8]
    out[0, 1, 0, 10:13] = [0.1, 0.6, 0.3]
    res = Y.postprocess(out, 2, 3, (64, 64), score_thresh=0.2, nms_thresh=0.5)
    assert len(res) == 1
    r = res[0]
    # centre ((0 + 0.5) / 2, (1 + 0.5) / 2) * 64 = (16, 48); w = 0.25 * 64, h = 0.5 * 64
    # scores: 0.6 * 0.8 = 0.48 (label 2), 0.3 * 0.8 = 0.24 (label 3); 0.1 * 0.8 < 0.2
    np.testing.assert_allclose(r["boxes"], [[8, 32, 24, 64], [8, 32, 24, 64]], atol=1e-5)
    np.testing.assert_allclose(r["scores"], [0.48, 0.24], rtol=1e-6)
    assert r["labels"].tolist() == [2, 3]
    assert r["boxes"].dtype == np.float32 and r["scores"].dtype == np.float32
    assert r["labels"].dtype == np.int64


def test_decode_nms_removes_the_duplicate_of_the_second_predictor():
    out = np.zeros((1, 1, 1, 11), np.float32)
    out[0, 0, 0, 0:5] = [0.5, 0.5, 0.5, 0.5, 0.9]
    out[0, 0, 0, 5:10] = [0.5, 0.52, 0.5, 0.5, 0.7]    # the same box, 0.64 px lower
    out[0, 0, 0, 10] = 1.0
    r = Y.postprocess(out, 2, 1, (32, 32), score_thresh=0.1, nms_thresh=0.5)[0]
    assert r["scores"].tolist() == pytest.approx([0.9])


def test_detection_contract_train_and_eval():
    model = Y.yolo_v1_small(num_classes=11, S=7)
    images = sn.randn(2, 1, 64, 64)
    targets = random_targets(np.random.default_rng(3), 2)
    model.train()
    losses = model(images, targets)
    assert set(losses) == {"loss_coord", "loss_obj", "loss_noobj", "loss_class"}
    sum(losses.values()).backward()
    assert model.head[1].weight.grad is not None
    model.eval()
    with sn.no_grad():
        dets = model(images)
    assert len(dets) == 2
    for d in dets:
        assert set(d) == {"boxes", "scores", "labels"}
        assert d["boxes"].shape[1:] == (4,) and d["boxes"].dtype == np.float32
        assert ((d["labels"] >= 1) & (d["labels"] <= 10)).all()
    with pytest.raises(ValueError, match="targets"):
        model.train()
        model(images)


def test_bad_targets_teach():
    out = sn.randn(1, 7, 7, 20)
    with pytest.raises(ValueError, match=r"labels must be in 1\.\.10"):
        Y.yolo_v1_loss(out, [{"boxes": np.zeros((1, 4)), "labels": np.array([0])}], 2, 10,
                       (64, 64))
    with pytest.raises(ValueError, match="list of 1 dicts"):
        Y.yolo_v1_loss(out, [], 2, 10, (64, 64))
    with pytest.raises(ValueError, match=r"2\*5\+10 = 20"):
        Y.yolo_v1_loss(sn.randn(1, 7, 7, 21), [], 2, 10, (64, 64))
