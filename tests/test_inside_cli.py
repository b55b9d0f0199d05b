"""`scratchnet inside`: the figures it writes for the checkpoints `scratchnet train` makes,
and one line with exit code 2 for every kind of bad input. The checkpoints here hold untrained
weights: what is tested is the plumbing, the methods themselves are in test_visualize.py."""
import os

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models, serialization
from scratchnet.cli import main
from scratchnet.inside import IMAGENET_MEAN, IMAGENET_STD, prepare_image

FIGURES = {"input.png", "filters.png", "deconvnet.png", "saliency.png", "gradcam.png"}


def checkpoint(tmp_path, name, data):
    sn.manual_seed(0)
    model = getattr(models, name)()
    path = tmp_path / f"{name}.npz"
    serialization.save({"model": model.state_dict(), "meta": {"model": name, "data": data}},
                       str(path))
    return str(path)


def png(tmp_path, array, name="image.png"):
    import matplotlib.image as mpimg
    path = tmp_path / name
    mpimg.imsave(str(path), array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=1)
    return str(path)


def test_lenet5_on_a_digits_test_image(tmp_path, capsys):
    ckpt = checkpoint(tmp_path, "lenet5", "digits")
    out = tmp_path / "out"
    assert main(["inside", ckpt, "test:3", "--out", str(out), "--top", "2"]) == 0
    written = set(os.listdir(out))
    assert FIGURES <= written
    # LeNet-5's convolutions and tanh layers with maps larger than 1 x 1 (conv3's are 1 x 1)
    assert {f for f in written if f.startswith("maps_")} == {
        "maps_features.0.png", "maps_features.1.png", "maps_features.3.png",
        "maps_features.4.png"}
    assert "a digits test image, label" in capsys.readouterr().out


def test_image_files_grey_and_colour(tmp_path):
    digit = np.zeros((40, 30))
    digit[5:35, 12:18] = 1.0                  # a "1", drawn light on dark
    ckpt = checkpoint(tmp_path, "lenet5", "digits")
    paper = png(tmp_path, 1 - digit)          # dark on light paper, as people draw
    assert main(["inside", ckpt, paper, "--invert", "--out", str(tmp_path / "a"),
                 "--top", "1", "--target", "1", "--layer", "features.5"]) == 0
    assert FIGURES <= set(os.listdir(tmp_path / "a"))
    cifar = checkpoint(tmp_path, "convnetjs_cifar10", "cifar10")
    colour = png(tmp_path, np.random.default_rng(0).random((20, 24, 3)), "colour.png")
    assert main(["inside", cifar, colour, "--out", str(tmp_path / "b"), "--top", "3"]) == 0
    assert FIGURES <= set(os.listdir(tmp_path / "b"))


def test_prepare_image_matches_the_training_data(tmp_path):
    flat = png(tmp_path, np.full((10, 10), 0.5))
    from scratchnet.data import digits
    train = digits("train", normalize=True)
    x = prepare_image(flat, "digits")
    assert x.shape == (1, 1, 32, 32) and x.dtype == np.float32
    # 0.5 grey after the file's 8-bit rounding (128/255), standardised as the training set
    np.testing.assert_allclose(x, (128 / 255 - train.mean) / train.std, rtol=1e-5)
    x = prepare_image(flat, "mnist")
    assert x.shape == (1, 1, 32, 32) and x[0, 0, 0, 0] == 0 and x[0, 0, 2, 2] > 0.5
    x = prepare_image(flat, "imagenet")
    assert x.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(x[0, :, 0, 0], (128 / 255 - np.array(IMAGENET_MEAN))
                               / np.array(IMAGENET_STD), rtol=1e-5)


def test_imagenet_names_without_and_with_weights(tmp_path, monkeypatch, capsys):
    image = png(tmp_path, np.random.default_rng(0).random((30, 30, 3)))
    # empty weight caches: the zoo's own WeightsNotFoundError, said in one line
    monkeypatch.setenv("SCRATCHNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert main(["inside", "alexnet", image, "--out", str(tmp_path / "o")]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "alexnet-owt-7be5be79.pth is not in" in out
    assert "scratchnet weights download alexnet" in out
    assert not (tmp_path / "o").exists()

    # with weights (here a small stand-in for the network): the ImageNet preprocessing
    class Tiny(sn.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = sn.nn.Sequential(sn.nn.Conv2d(3, 4, 11, stride=4), sn.nn.ReLU(),
                                             sn.nn.MaxPool2d(3, 2))
            self.fc = sn.nn.Linear(4, 5)

        def forward(self, x):
            return self.fc(self.features(x).mean(axis=(2, 3)))

    seen = {}

    def present(weights=None):
        seen["weights"] = weights
        return Tiny()

    monkeypatch.setattr(models, "alexnet", present)
    assert main(["inside", "alexnet", image, "--out", str(tmp_path / "p"), "--top", "1"]) == 0
    assert seen["weights"] == "IMAGENET1K_V1"
    assert FIGURES <= set(os.listdir(tmp_path / "p"))


@pytest.mark.parametrize("args, message", [
    (["CKPT", "missing.png"], "no image file at missing.png"),
    (["nosuchmodel", "x.png"], "'nosuchmodel' is neither a checkpoint file nor a zoo model"),
    (["zfnet", "x.png"], "zfnet: torchvision publishes no ImageNet weights"),
    (["CKPT", "test:x"], "write test:N with a whole number N"),
    (["CKPT", "test:360"], "the digits test set has 360 images, 0..359"),
    (["CKPT", "test:0", "--layer", "classifier.1"], "it outputs (1, 84), not feature maps"),
    (["CKPT", "test:0", "--layer", "conv9"], "'conv9': no such layer; layers with feature "
                                             "maps: features.0, features.1"),
    (["CKPT", "test:0", "--target", "10"], "the model has 10 classes, 0..9"),
    (["CKPT", "test:0", "--top", "0"], "--top must be at least 1"),
    (["CKPT", "NOTIMAGE"], "cannot read"),
    (["NOTIMAGE", "test:0"], "not a `scratchnet train` checkpoint"),
    (["SEGMENTATION", "test:0"], "is a segmentation checkpoint (fcn8s)"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    ckpt = checkpoint(tmp_path, "lenet5", "digits")
    text = tmp_path / "notes.npz"
    serialization.save({"a": np.zeros(2)}, str(text))
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    segmentation = tmp_path / "fcn.npz"
    serialization.save({"model": {}, "meta": {"model": "fcn8s", "data": "digit-scenes",
                                              "task": "segmentation"}}, str(segmentation))
    args = [{"CKPT": ckpt, "SEGMENTATION": str(segmentation),
             "NOTIMAGE": str(junk) if a == "NOTIMAGE" and args[0] == "CKPT"
             else str(text)}.get(a, a) for a in args]
    assert main(["inside", *args, "--out", str(tmp_path / "out")]) == 2
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()
