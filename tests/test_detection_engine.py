"""The shared detection engine and `scratchnet detect`, driven by a toy detector whose
every number is known: collate, the training loop, mAP and timing, checkpoints, pictures,
and one-line answers to bad input."""
import matplotlib.image as mpimg
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.cli import main
from scratchnet.detection import engine, recipes
from tests.detection_toy import BOX, ToyDataset, ToyDetector


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(recipes.RECIPE_MODULES, "toy", "tests.detection_toy")


def test_collate_stacks_images_and_normalises_targets():
    a = (np.zeros((1, 8, 8)), {"boxes": [[0, 0, 2, 3]], "labels": [4], "extra": "kept"})
    b = (np.ones((1, 8, 8), np.float32), {"boxes": np.zeros((0, 4)), "labels": []})
    images, targets = engine.collate([a, b])
    assert images.shape == (2, 1, 8, 8) and images.dtype == np.float32
    assert targets[0]["boxes"].dtype == np.float32 and targets[0]["boxes"].shape == (1, 4)
    assert targets[0]["labels"].dtype == np.int64 and targets[0]["extra"] == "kept"
    assert targets[1]["boxes"].shape == (0, 4) and targets[1]["labels"].shape == (0,)


def test_collate_bad_batches():
    with pytest.raises(engine.DetectionError, match="one size"):
        engine.collate([(np.zeros((1, 8, 8)), {"boxes": [], "labels": []}),
                        (np.zeros((1, 8, 9)), {"boxes": [], "labels": []})])
    with pytest.raises(engine.DetectionError, match="2 boxes but 1 labels"):
        engine.collate([(np.zeros((1, 8, 8)), {"boxes": np.zeros((2, 4)), "labels": [1]})])
    with pytest.raises(engine.DetectionError, match="'boxes' and 'labels'"):
        engine.collate([(np.zeros((1, 8, 8)), {"boxes": np.zeros((2, 4))})])


def test_fit_records_each_loss_term_by_hand():
    model = ToyDetector()
    opt = sn.optim.SGD(model.parameters(), lr=0.25)
    history = engine.fit(model, ToyDataset(4), opt, epochs=2, batch_size=2, progress=False,
                         log=None)
    # w: 0 -> 0.5 -> 0.75 -> 0.875 -> 0.9375 (the gradient of (w - 1)^2 is 2 (w - 1));
    # losses (w - 1)^2 at each step: 1, 1/4, 1/16, 1/64
    assert history.step_losses == [1.0, 0.25, 0.0625, 0.015625]
    assert history["loss"] == [0.625, 0.0390625]
    assert history["loss_w"] == [0.625, 0.0390625] and history["loss_zero"] == [0.0, 0.0]
    assert float(model.w.data[0]) == 0.9375
    assert history.loss_names() == ["loss_w", "loss_zero"]


@pytest.mark.filterwarnings("ignore:invalid value")
def test_fit_stops_on_a_non_finite_loss():
    from scratchnet.train import NonFiniteLossError

    model = ToyDetector()
    opt = sn.optim.SGD(model.parameters(), lr=float("inf"))
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 2 .*loss_w"):
        engine.fit(model, ToyDataset(4), opt, epochs=1, batch_size=2, progress=False,
                   log=None)


def test_fit_refuses_a_model_that_breaks_the_contract():
    class Bad(ToyDetector):
        def forward(self, images, targets=None):
            return (self.w - 1.0) ** 2

    opt = sn.optim.SGD(Bad().parameters(), lr=0.1)
    with pytest.raises(engine.DetectionError, match="dict of scalar loss Tensors"):
        engine.fit(Bad(), ToyDataset(2), opt, progress=False, log=None)


def test_evaluate_gives_voc_map_and_time():
    # the toy's box is exactly the object: every image a true positive, AP 1 for class
    # label 3 (the digit "2")
    r = engine.evaluate(ToyDetector(), ToyDataset(4))
    assert r["map"] == 1.0 and r["ap"] == {"2": 1.0}
    assert r["n_images"] == 4 and r["n_objects"] == 4 and r["seconds_per_image"] > 0
    # shifted by 6 pixels: IoU = 10*10 / (2*256 - 100) = 0.243 < 0.5, every detection false
    assert engine.evaluate(ToyDetector(shift=6.0), ToyDataset(4))["map"] == 0.0
    # the wrong class: the objects of class 3 are never found
    assert engine.evaluate(ToyDetector(label=4), ToyDataset(4))["map"] == 0.0


def test_check_detections_names_the_problem():
    good = {"boxes": np.zeros((1, 4)), "scores": np.ones(1), "labels": np.ones(1, int)}
    with pytest.raises(engine.DetectionError, match="list of 2 dicts"):
        engine.check_detections([good], 2)
    with pytest.raises(engine.DetectionError, match="lacks scores"):
        engine.check_detections([{"boxes": good["boxes"], "labels": good["labels"]}], 1)
    with pytest.raises(engine.DetectionError, match=r"expected \(K, 4\)"):
        engine.check_detections([dict(good, boxes=np.zeros((1, 5)))], 1)
    (out,) = engine.check_detections([good], 1)
    assert out["boxes"].dtype == np.float32 and out["labels"].dtype == np.int64


def test_draw_detections_marks_boxes_above_the_threshold():
    image = np.zeros((1, 32, 32), np.float32)
    det = {"boxes": np.array([BOX, [1, 1, 5, 5]], np.float32),
           "scores": np.array([0.9, 0.2], np.float32), "labels": np.array([3, 5])}
    pic = engine.draw_detections(image, det, scale=2)
    assert pic.shape == (3, 64, 64) and pic.dtype == np.uint8
    # the kept box's outline at (2*8, 2*8) is coloured; the low-scoring box is not drawn
    assert pic[:, 40, 16].any() and not pic[:, 6, 2].any()


def test_recipe_config_checks_settings(toy_registered):
    recipe = recipes.get_recipe("toy")
    config = recipe.config({"epochs": 3})
    assert config["epochs"] == 3 and config["label"] == 3 and config["optimizer"] == "sgd"
    with pytest.raises(engine.DetectionError, match="unknown setting 'nope'"):
        recipe.config({"nope": 1})
    with pytest.raises(engine.DetectionError, match="--batch-size must be a whole number"):
        recipe.config({"batch_size": 0})
    with pytest.raises(engine.DetectionError, match="--lr must be a finite number"):
        recipe.config({"lr": float("nan")})
    with pytest.raises(engine.DetectionError, match="unknown detector 'nope'"):
        recipes.get_recipe("nope")


def test_checkpoint_round_trip(tmp_path, toy_registered):
    model = ToyDetector(label=5)
    model.w.data[...] = 0.25
    config = recipes.get_recipe("toy").config({"label": 5})
    path = engine.save_checkpoint(tmp_path / "c.npz", model, "toy", config, map=0.5)
    loaded, meta = engine.load_checkpoint(path)
    assert float(loaded.w.data[0]) == 0.25 and loaded.label == 5 and not loaded.training
    assert meta["detector"] == "toy" and meta["config"]["label"] == 5 and meta["map"] == 0.5


def _one_line(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert rc == 2, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_cli_train_evaluate_predict(tmp_path, capsys, toy_registered):
    out = tmp_path / "run"
    assert main(["detect", "train", "toy", "--out", str(out), "--no-progress",
                 "--set", "label=4"]) == 0
    for name in engine.OUTPUTS:
        assert (out / name).is_file(), name
    text = capsys.readouterr().out
    assert "held-out mAP@0.5" in text and "ms per test image" in text
    assert main(["detect", "evaluate", "--checkpoint", str(out / "checkpoint.npz"),
                 "--num-test", "2"]) == 0
    assert "on 2 held-out DigitScenes" in capsys.readouterr().out
    scene, _ = sn.data.DigitScenes("test", num_samples=1)[0]
    image = tmp_path / "scene.png"
    mpimg.imsave(image, scene[0], cmap="gray", vmin=0, vmax=1)
    drawn = tmp_path / "boxes.png"
    assert main(["detect", "predict", str(image), "--checkpoint",
                 str(out / "checkpoint.npz"), "--out", str(drawn)]) == 0
    pic = mpimg.imread(drawn)
    assert pic.shape[:2] == (256, 256)     # 64x64 drawn 4x
    assert "1 detections with score >= 0.5" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["detect", "train", "nope"], "unknown detector 'nope'"),
    (["detect", "train", "toy", "--epochs", "0"], "--epochs must be a whole number"),
    (["detect", "train", "toy", "--set", "colour=red"], "unknown setting 'colour'"),
    (["detect", "train", "toy", "--set", "label"], "--set takes KEY=VALUE"),
    (["detect", "train", "toy", "--set", "label=two"], "setting label must be a whole number"),
    (["detect", "train", "toy", "--set", "shift=[1]"], "setting shift must be a number"),
    (["detect", "train", "toy", "--set", "label=-1"], "cannot build the detector"),
    (["detect", "evaluate", "--checkpoint", "missing.npz"], "no checkpoint at missing.npz"),
    (["detect", "predict", "missing.png", "--checkpoint", "c.npz", "--out", "o.png"],
     "no image file at missing.png"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, monkeypatch, toy_registered, argv,
                                   words):
    monkeypatch.chdir(tmp_path)
    assert words in _one_line(capsys, argv)


def test_cli_foreign_checkpoint_and_bad_image(tmp_path, capsys, toy_registered):
    foreign = tmp_path / "f.npz"
    sn.save({"model": {}, "meta": {"model": "lenet5", "data": "digits"}}, foreign)
    assert "not a `scratchnet detect train` checkpoint" in _one_line(
        capsys, ["detect", "evaluate", "--checkpoint", str(foreign)])
    model = ToyDetector()
    ckpt = engine.save_checkpoint(tmp_path / "c.npz", model, "toy",
                                  recipes.get_recipe("toy").config())
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    assert "cannot read" in _one_line(capsys, ["detect", "predict", str(text_file),
                                               "--checkpoint", str(ckpt), "--out",
                                               str(tmp_path / "o.png")])
