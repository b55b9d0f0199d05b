"""scratchnet.visualize: every method on tiny networks whose answer is worked out by hand
(the numbers are in the comments), and, with torch installed, against a transcription of each
paper's recipe in torch on a small random CNN."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import nn
from scratchnet.visualize import (class_scores, deconv_projection, deletion_drop, feature_maps,
                                  filter_grid, grad_cam, layer_names, projectable_layers,
                                  saliency)


def set_weight(layer, values):
    layer.weight.data[...] = np.asarray(values, dtype=layer.weight.dtype).reshape(
        layer.weight.shape)
    return layer


def image(values):
    a = np.asarray(values, np.float32)
    return sn.tensor(a.reshape(1, 1, *a.shape))


def test_deconvnet_unpools_to_the_switch_and_paints_the_filter():
    # conv W = [[1, 2], [3, 4]] on a 5x5 image with a single 1 at (2, 3) gives a 4x4 map that
    # is 4 at (1, 2), 3 at (1, 3), 2 at (2, 2), 1 at (2, 3); 2x2 max pooling keeps 4 (switch
    # (1, 2)) and 2 (switch (2, 2)). The strongest, 4, goes back to (1, 2), stays after the
    # ReLU, and the transposed filter paints 4 * W at rows 1-2, columns 2-3.
    net = nn.Sequential(set_weight(nn.Conv2d(1, 1, 2, bias=False), [[1, 2], [3, 4]]),
                        nn.ReLU(), nn.MaxPool2d(2))
    x = np.zeros((5, 5), np.float32)
    x[2, 3] = 1
    expected = np.zeros((5, 5))
    expected[1:3, 2:4] = [[4, 8], [12, 16]]
    np.testing.assert_array_equal(deconv_projection(net, image(x), "2")[0, 0], expected)
    # the whole map: 2 * W is added at rows 2-3, columns 2-3
    expected[2:4, 2:4] += [[2, 4], [6, 8]]
    np.testing.assert_array_equal(deconv_projection(net, image(x), "2", keep="map")[0, 0],
                                  expected)


def test_deconvnet_rectifies_on_the_way_down():
    # x = [3, 1, 0] -> conv1 (weight 1) -> ReLU -> conv2 W = [1, -1] -> [2, 1]. From the 2:
    # conv2 transposed gives [2, -2, 0], the ReLU makes it [2, 0, 0], conv1 transposed keeps it.
    net = nn.Sequential(set_weight(nn.Conv2d(1, 1, 1, bias=False), [1]), nn.ReLU(),
                        set_weight(nn.Conv2d(1, 1, (1, 2), bias=False), [1, -1]))
    out = deconv_projection(net, image([[3, 1, 0]]), "2")
    np.testing.assert_array_equal(out[0, 0], [[2, 0, 0]])


def test_deconvnet_restores_the_rows_a_stride_left_out_and_transposes_avg_pooling():
    # a 3x3 all-ones filter with stride 2 on a 6x6 image of ones: (6 - 3)/2 + 1 = 2.5 -> 2x2
    # maps of 9; the first one goes back as 9 on the top-left 3x3 of a 6x6 picture
    net = nn.Sequential(set_weight(nn.Conv2d(1, 1, 3, stride=2, bias=False), np.ones(9)))
    out = deconv_projection(net, image(np.ones((6, 6))), "0")
    expected = np.zeros((6, 6))
    expected[:3, :3] = 9
    np.testing.assert_array_equal(out[0, 0], expected)
    # average pooling of [[1, 2], [3, 4]] is 2.5; its transpose spreads 2.5 / 4 over the window
    out = deconv_projection(nn.Sequential(nn.AvgPool2d(2)), image([[1, 2], [3, 4]]), "0")
    np.testing.assert_array_equal(out[0, 0], np.full((2, 2), 0.625))


def test_deconvnet_adds_up_where_overlapping_windows_share_a_switch():
    # windows (1 x 2, stride 1) over [0, 5, 0] both pick the 5: the map [5, 5] goes back as
    # 5 + 5 at the middle (F.max_unpool2d would keep only one of them)
    out = deconv_projection(nn.Sequential(nn.MaxPool2d((1, 2), stride=1)), image([[0, 5, 0]]),
                            "0", keep="map")
    np.testing.assert_array_equal(out[0, 0], [[0, 10, 0]])


def test_deconvnet_picks_each_images_strongest_channel_by_default():
    # channel 0 copies the image, channel 1 is 3 times its negative: image A = [[1, 0]] is
    # strongest in channel 0 (1 > 0), image B = [[-1, 0]] in channel 1 (3 > 0)
    net = nn.Sequential(set_weight(nn.Conv2d(1, 2, 1, bias=False), [1, -3]))
    x = sn.tensor(np.array([[[[1, 0]]], [[[-1, 0]]]], np.float32))
    out = deconv_projection(net, x, "0")
    # A: 1 at (0, 0) painted back by weight 1; B: 3 at (0, 0) painted back by weight -3
    np.testing.assert_array_equal(out[:, 0, 0], [[1, 0], [-9, 0]])


def test_unpooling_is_max_unpool2d_when_windows_do_not_overlap():
    x = sn.randn(2, 3, 6, 8)
    net = nn.Sequential(nn.MaxPool2d(2))
    ours = deconv_projection(net, x, "0", channel=1, keep="map")
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    keep = np.zeros(pooled.shape, np.float32)
    keep[:, 1] = pooled.data[:, 1]
    reference = F.max_unpool2d(sn.tensor(keep), idx, 2, output_size=(6, 8)).data
    np.testing.assert_array_equal(ours, reference)


def tiny_cam_net():
    """conv 1->2 (weights 1 and -1), ReLU, global average pooling, Linear with
    V = [[1, 2], [3, -1]] and no bias."""
    lin = nn.Linear(2, 2, bias=False)
    set_weight(lin, [[1, 2], [3, -1]])
    return nn.Sequential(set_weight(nn.Conv2d(1, 2, 1, bias=False), [1, -1]), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), lin)


def test_grad_cam_by_hand():
    # x = [[1, -2], [3, 0]]: A0 = relu(x) = [[1, 0], [3, 0]], A1 = relu(-x) = [[0, 2], [0, 0]];
    # pooled [1, 0.5]; scores 1 + 2 * 0.5 = 2 and 3 - 0.5 = 2.5, so class 1 is predicted.
    # d score_c / d A_k = V[c, k] / 4 at every pixel: alpha = V[c] / 4.
    net, x = tiny_cam_net(), image([[1, -2], [3, 0]])
    # class 1: 0.75 A0 - 0.25 A1 = [[0.75, -0.5], [2.25, 0]] -> ReLU
    np.testing.assert_allclose(grad_cam(net, x, "1")[0], [[0.75, 0], [2.25, 0]], rtol=1e-6)
    # class 0: 0.25 A0 + 0.5 A1 = [[0.25, 1], [0.75, 0]]
    np.testing.assert_allclose(grad_cam(net, x, "1", target=0)[0], [[0.25, 1], [0.75, 0]],
                               rtol=1e-6)


def test_saliency_by_hand():
    # score_1 = 3 mean(relu(x)) - mean(relu(-x)): d/dx = 3/4 where x > 0, +1/4 where x < 0
    # (the minus of the score meets the minus of -x), 0 where x = 0 (ReLU's slope at 0)
    net, x = tiny_cam_net(), image([[1, -2], [3, 0]])
    np.testing.assert_allclose(saliency(net, x)[0], [[0.75, 0.25], [0.75, 0]], rtol=1e-6)
    # max over channels of |gradient|: two channels carrying 1 and -3 times the same pixel
    conv = set_weight(nn.Conv2d(2, 1, 1, bias=False), [1, -3])
    net2 = nn.Sequential(conv, nn.Flatten(), set_weight(nn.Linear(1, 1, bias=False), [2]))
    np.testing.assert_allclose(saliency(net2, sn.ones(1, 2, 1, 1))[0], [[6.0]])


def test_deletion_drop_by_hand():
    # logits = (x1 + 2 x2 + 3 x3 + 4 x4, -(x1 + 2 x2 + 3 x3 + 4 x4)) on x = (1, 1, 1, 1):
    # (10, -10), class 0 predicted. The ranking puts pixels 4 then 2 first; deleting them
    # (fill 0) removes 4 + 2 from logit 0: it falls by 6. The tie 5 = 5 keeps raster order.
    lin = set_weight(nn.Linear(4, 2, bias=False), [[1, 2, 3, 4], [-1, -2, -3, -4]])
    net = nn.Sequential(nn.Flatten(), lin)
    x = np.ones((1, 1, 2, 2), np.float32)
    assert deletion_drop(net, x, np.array([[[0, 9], [1, 10]]]), 2, 0.0) == pytest.approx(6.0)
    assert deletion_drop(net, x, np.array([[[5, 5], [0, 0]]]), 1, 0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"ranking \(N, H, W\)"):
        deletion_drop(net, x, np.zeros((1, 4)), 1, 0.0)


def test_methods_leave_the_model_as_they_found_it():
    net = tiny_cam_net()
    net.train()
    grad_cam(net, image([[1, -2], [3, 0]]), "1")
    saliency(net, image([[1, -2], [3, 0]]))
    assert net.training and all(p.grad is None for p in net.parameters())
    assert all(not m._forward_hooks for m in net.modules())


def test_feature_maps_and_filters():
    net = tiny_cam_net()
    maps = feature_maps(net, image([[1, -2], [3, 0]]), ["0", "1"])
    np.testing.assert_array_equal(maps["0"][0], [[[1, -2], [3, 0]], [[-1, 2], [-3, 0]]])
    np.testing.assert_array_equal(maps["1"][0], [[[1, 0], [3, 0]], [[0, 2], [0, 0]]])
    assert layer_names(net) == ["0", "1", "2", "3", "4"]
    with pytest.raises(ValueError, match="no layer 'conv9'; its layers are: 0, 1, 2, 3, 4"):
        feature_maps(net, image([[1]]), "conv9")
    # two 1x2x2 filters, each scaled to [0, 1] on its own, one pixel of white between them
    w = np.array([[[[0, 1], [2, 3]]], [[[-4, 0], [0, 4]]]], np.float32)
    grid = filter_grid(w, padding=1)
    assert grid.shape == (3, 4, 7)
    np.testing.assert_allclose(grid[0, 1:3, 1:3], [[0, 1 / 3], [2 / 3, 1]])
    np.testing.assert_allclose(grid[0, 1:3, 4:6], [[0, 0.5], [0.5, 1]])
    assert grid[0, 0, 0] == 1.0


def test_projectable_layers_end_where_the_stack_or_the_known_layers_end():
    net = tiny_cam_net()
    # conv and ReLU; global pooling is projectable but its output (N, 2, 1, 1) is the last
    # map before Flatten, which the deconvnet cannot walk back through
    assert projectable_layers(net, image([[1, -2], [3, 0]])) == ["0", "1", "2"]
    up = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 1))
    assert projectable_layers(up, image([[1, 2]])) == ["0"]
    np.testing.assert_allclose(class_scores(net, image([[1, -2], [3, 0]])), [[2.0, 2.5]])


def test_errors_name_the_problem():
    net = tiny_cam_net()
    with pytest.raises(ValueError, match=r"4 outputs shape \(1, 2\), not feature maps"):
        deconv_projection(net, image([[1, 2]]), "4")
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match=r"cannot project back through 0 \(Upsample\)"):
        deconv_projection(up, image([[1, 2]]), "1")
    with pytest.raises(ValueError, match="2 channels, channel 5"):
        deconv_projection(net, image([[1, 2]]), "1", channel=5)
    with pytest.raises(ValueError, match="outside the model's 2 classes"):
        grad_cam(net, image([[1, 2]]), "1", target=2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        saliency(net, sn.ones(2, 2))


def small_cnn():
    sn.manual_seed(3)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 2 * 2, 3))


def torch_copy(torch, net):
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 5, 3), torch.nn.ReLU(),
                            torch.nn.Flatten(), torch.nn.Linear(20, 3)).double()
    t.load_state_dict({k: torch.tensor(v.data.astype(np.float64))
                       for k, v in net.state_dict().items()})
    return t


def test_grad_cam_saliency_and_deconvnet_against_torch_live():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    net = small_cnn().double()
    x = np.random.default_rng(1).normal(size=(2, 2, 8, 8))
    t = torch_copy(torch, net)

    # Grad-CAM at the second ReLU, as the paper writes it, with torch's own hooks
    store = {}

    def keep(module, args, output):
        store["A"] = output
        output.register_hook(lambda g: store.update(G=g))

    handle = t[4].register_forward_hook(keep)
    xt = torch.tensor(x, requires_grad=True)
    logits = t(xt)
    handle.remove()
    cls = logits.argmax(1)
    logits[torch.arange(2), cls].sum().backward()
    alpha = store["G"].mean(dim=(2, 3), keepdim=True)
    cam = TF.relu((alpha * store["A"]).sum(1, keepdim=True))
    cam = TF.interpolate(cam, size=(8, 8), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(grad_cam(net, sn.tensor(x), "4"), cam.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    sal = xt.grad.abs().amax(1)
    np.testing.assert_allclose(saliency(net, sn.tensor(x)), sal.numpy(), rtol=1e-10,
                               atol=1e-12)

    # the deconvnet from channel 2 of the second ReLU, strongest activation, in torch
    with torch.no_grad():
        x0 = torch.tensor(x)
        c1 = t[1](t[0](x0))
        p, switches = TF.max_pool2d(c1, 2, return_indices=True)
        a = t[4](t[3](p))
        r = torch.zeros_like(a)
        for n in range(2):
            i = a[n, 2].argmax()
            r[n, 2].view(-1)[i] = a[n, 2].reshape(-1)[i]
        r = TF.relu(r)
        r = TF.conv_transpose2d(r, t[3].weight)
        r = TF.max_unpool2d(r, switches, 2, output_size=(8, 8))
        r = TF.relu(r)
        r = TF.conv_transpose2d(r, t[0].weight, padding=1)
    np.testing.assert_allclose(deconv_projection(net, sn.tensor(x), "4", channel=2),
                               r.numpy(), rtol=1e-10, atol=1e-12)
