"""Fast R-CNN against the R-CNN way of using the same network: the speed-up deck 002 quotes
(146x at test, 8.8x in training, from the paper's Table 4 with VGG-16).

    python benchmarks/bench_fast_rcnn.py [--rounds 3] [--repeats 3] [--regions 2828]

Both sides build the same Fast R-CNN (the stride-4 DigitScenes backbone, RoI pooling to 7x7,
TwoMLPHead, FastRCNNPredictor; seed 0) and a 64x64 DigitScenes test scene with its
DenseWindows proposals.

- scratchnet (Fast R-CNN): the backbone once on the scene, every region RoI-pooled from its
  feature map, the heads on all regions.
- rcnn-way: every region cropped from the scene and warped to 32x32 (bilinear), the backbone
  on each crop (in batches of 256), the whole crop's map pooled to 7x7, the same heads.

Cases: "test: N regions" (no gradients, the network only, no NMS), and "train: 128 RoIs"
(one forward + backward: Fast R-CNN's 2 scenes x 64 sampled RoIs with its two losses; the
R-CNN way's 128 warped crops with cross-entropy, as R-CNN fine-tunes). Ratio = rcnn-way time
/ Fast R-CNN time. Goal (issue 14): at least 10x at test. Each side runs in processes of its
own (benchmarks/harness.py: alternating rounds, medians, the same thread count). Results go
to benchmarks/results/fast_rcnn.json.
"""
from __future__ import annotations

import numpy as np

import harness


def _setup(args):
    import scratchnet as sn
    from scratchnet.detection import engine
    from scratchnet.models.detection import DenseWindows, fast_rcnn

    sn.manual_seed(0)
    model = fast_rcnn()
    scene, _ = engine.test_scenes(1)[0]
    windows = DenseWindows()(scene)[:args.regions]
    two = engine.collate([engine.train_scenes(2)[i] for i in range(2)])
    return sn, model, scene, windows, two


def fast_side(args):
    sn, model, scene, windows, (images, targets) = _setup(args)

    def test():
        model.eval()
        with sn.no_grad():
            features = model.backbone(sn.tensor(scene[None]))
            pooled = model.roi_heads.box_roi_pool(features, [windows])
            return model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))

    def train():
        model.train()
        model.zero_grad()
        sum(model(images, targets).values()).backward()

    return {f"test: {len(windows)} regions": test, "train: 128 RoIs": train}


def rcnn_side(args):
    sn, model, scene, windows, (images, _) = _setup(args)
    import scratchnet.nn.functional as F
    from scratchnet.data.transforms import resize

    def warped(image, boxes, size=32):
        out = []
        for x1, y1, x2, y2 in np.round(boxes).astype(int):
            out.append(resize(image[:, y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)], (size, size)))
        return np.stack(out).astype(np.float32)

    def heads(crops):
        features = model.backbone(sn.tensor(crops))
        whole = [np.array([[0, 0, 31, 31]], np.float32)] * len(crops)
        pooled = model.roi_heads.box_roi_pool(features, whole)
        return model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))

    def test():
        model.eval()
        with sn.no_grad():
            return [heads(warped(scene, windows[i:i + 256])) for i in range(0, len(windows),
                                                                             256)]

    labels = sn.tensor(np.arange(128) % 11)

    def train():
        model.train()
        model.zero_grad()
        logits, _ = heads(warped(images.data[0], windows[:128]))
        F.cross_entropy(logits, labels).backward()

    return {f"test: {len(windows)} regions": test, "train: 128 RoIs": train}


def report(result, args):
    r = harness.ratios(result, "rcnn-way")
    for case, v in r.items():
        goal = "  (goal >= 10x: " + ("met)" if v >= 10 else "NOT met)") \
            if case.startswith("test") else ""
        print(f"{case}: Fast R-CNN is {v:.1f}x faster than the R-CNN way{goal} "
              f"(deck 002: {'146x' if case.startswith('test') else '8.8x'})")
    return {"ratios": r}


def _arguments(ap):
    ap.add_argument("--regions", type=int, default=2828,
                    help="proposals per scene (DenseWindows gives 2,828)")


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": fast_side, "rcnn-way": rcnn_side},
                 name="fast_rcnn", description=__doc__, add_arguments=_arguments, rounds=3,
                 repeats=3, report=report)
