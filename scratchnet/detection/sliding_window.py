"""The sliding-window face detector, trained here: `scratchnet detect sliding-window IMAGE`.

The classifier (models.detection.sliding_window.FaceNet) learns face / non-face on
scikit-image's LFW subset (25x25 grey, 80 + 80 training images). Those 80 non-faces are far
too few for a detector that sees thousands of windows, so, as face detectors always did
(Sung and Poggio 1998; Dalal and Triggs 2005; R-CNN's hard-negative mining), negatives are
added from photos with no human face in them: random windows first, then a round of hard
negatives, the windows of those photos the first classifier took for faces. The astronaut
photo, where the demo looks for a face, is never used in training.
"""
from __future__ import annotations

import os
import time

import numpy as np

import scratchnet as sn
import scratchnet.nn.functional as F

from ..models.detection.sliding_window import FaceNet, SlidingWindowDetector

# scikit-image's bundled photos with no human face (the camera man and the astronaut are out)
NEGATIVE_PHOTOS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "moon",
                   "hubble_deep_field", "coins", "page", "text", "clock",
                   "immunohistochemistry", "cell", "colorwheel", "checkerboard")
INPUT = 25


def grey(image):
    """(H, W) or (H, W, 3|4) uint8/float/bool -> (H, W) float32 in [0, 1] (channel mean)."""
    a = np.asarray(image)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if a.ndim == 3:
        a = a[..., :3].mean(axis=-1)
    return a


def negative_photos():
    import skimage.data

    return [grey(getattr(skimage.data, name)()) for name in NEGATIVE_PHOTOS]


def random_windows(photos, n, rng):
    """n random square windows of the photos, of side 25 m pixels (m >= 1 at random), each
    shrunk to 25x25 by averaging m x m blocks (an antialiased resize): (n, 1, 25, 25)."""
    out = np.empty((n, 1, INPUT, INPUT), np.float32)
    for i in range(n):
        p = photos[rng.integers(len(photos))]
        m = int(rng.integers(1, min(p.shape) // INPUT + 1))
        side = m * INPUT
        y, x = rng.integers(p.shape[0] - side + 1), rng.integers(p.shape[1] - side + 1)
        crop = p[y:y + side, x:x + side]
        out[i, 0] = crop.reshape(INPUT, m, INPUT, m).mean(axis=(1, 3))
    return out


def _augment(x, rng):
    """Random horizontal flips and shifts of up to 1 pixel (edges repeated)."""
    x = np.where(rng.random(len(x))[:, None, None, None] < 0.5, x[..., ::-1], x)
    pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    dy, dx = rng.integers(0, 3, 2)
    return np.ascontiguousarray(pad[:, :, dy:dy + INPUT, dx:dx + INPUT])


def fit_classifier(model, x, y, epochs, rng, lr=2e-3, batch_size=64):
    """Adam on cross-entropy with each class weighted by 1 / its count (faces are few)."""
    opt = sn.optim.Adam(model.parameters(), lr=lr)
    counts = np.bincount(y, minlength=2).astype(np.float32)
    weight = sn.tensor(len(y) / (2 * np.maximum(counts, 1)))
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(sn.tensor(_augment(x[idx], rng))),
                                   sn.tensor(y[idx]), weight=weight)
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model, x, y):
    with sn.no_grad():
        pred = model(sn.tensor(x)).data.argmax(axis=1)
    return float((pred == y).mean())


def train_face_classifier(epochs=30, num_random=2000, hard_negatives=2000, rounds=2, seed=0,
                          log=print):
    """FaceNet on LFW faces vs LFW non-faces + random windows of face-free photos; then
    `rounds` times: slide it over those photos, add the (up to `hard_negatives`) windows it
    scores highest as faces, retrain from scratch. Returns (model, report dict)."""
    from ..data.datasets import LFWSubset

    log = log or (lambda *_: None)
    sn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    train, test = LFWSubset("train"), LFWSubset("test")
    photos = negative_photos()
    x = np.concatenate([train.data, random_windows(photos, num_random, rng)])
    y = np.concatenate([train.targets, np.zeros(num_random, np.int64)])
    model = fit_classifier(FaceNet(), x, y, epochs, rng)
    report = {"train_faces": int(train.targets.sum()),
              "train_non_faces": int((train.targets == 0).sum()),
              "random_negatives": num_random, "rounds": []}
    log(f"round 0: {len(y)} crops, LFW test accuracy "
        f"{accuracy(model, test.data, test.targets):.1%}")
    for r in range(1, rounds + 1):
        detector = SlidingWindowDetector(model).eval()
        wrong, scores, scanned = [], [], 0
        for p in photos:                 # keep only the mistakes: all windows are ~250 MB
            c, _ = detector.windows(p[None])
            sc = detector.scores(c)
            wrong.append(c[sc >= 0.5])
            scores.append(sc[sc >= 0.5])
            scanned += len(c)
        wrong, scores = np.concatenate(wrong), np.concatenate(scores)
        hard = wrong[np.argsort(-scores, kind="stable")[:hard_negatives]]
        x = np.concatenate([x, hard])
        y = np.concatenate([y, np.zeros(len(hard), np.int64)])
        model = fit_classifier(FaceNet(), x, y, epochs, rng)
        acc = accuracy(model, test.data, test.targets)
        report["rounds"].append({"false_positives": int(len(wrong)), "windows": scanned,
                                 "added": int(len(hard)), "test_accuracy": acc})
        log(f"round {r}: {len(wrong)} of {scanned} face-free windows taken for faces; "
            f"retrained with {len(hard)} of them as hard negatives: LFW test accuracy "
            f"{acc:.1%}")
    report["test_accuracy"] = accuracy(model, test.data, test.targets)
    report["seconds"] = time.perf_counter() - t0
    log(f"LFW test accuracy {report['test_accuracy']:.1%} ({len(test)} images), "
        f"{report['seconds']:.0f} s")
    return model, report


def load_or_train(checkpoint=None, seed=0, log=print, **kw):
    """The classifier from `checkpoint` when that file exists, else trained (and saved there
    when a path is given)."""
    model = FaceNet()
    if checkpoint and os.path.isfile(checkpoint):
        model.load_state_dict(sn.load(checkpoint)["model"])
        log(f"face classifier loaded from {checkpoint}")
        return model.eval()
    model, _ = train_face_classifier(seed=seed, log=log, **kw)
    if checkpoint:
        sn.save({"model": model.state_dict()}, checkpoint)
        log(f"face classifier saved to {checkpoint}")
    return model


def read_rgb(name_or_path):
    """A file path, or the name of a scikit-image photo ("astronaut"), as an array: (H, W)
    or (H, W, 3|4), uint8 or float."""
    if os.path.isfile(name_or_path):
        import matplotlib.image as mpimg
        try:
            a = np.asarray(mpimg.imread(name_or_path))
        except (ValueError, SyntaxError) as e:
            raise OSError(f"cannot read {name_or_path} as an image ({type(e).__name__})") \
                from None
        return a[..., :3] if a.ndim == 3 else a
    import skimage.data

    if name_or_path.isidentifier() and not name_or_path.startswith("_") and \
            hasattr(skimage.data, name_or_path):
        return np.asarray(getattr(skimage.data, name_or_path)())
    raise FileNotFoundError(f"no image file at {name_or_path} (nor a scikit-image photo of "
                            f"that name, such as 'astronaut')")


def read_photo(name_or_path):
    """`read_rgb` as (H, W) grey float32 in [0, 1]."""
    return grey(read_rgb(name_or_path))


def detect_faces(image, model, window_sizes=(32, 48, 64, 96, 128), stride=0.25,
                 score_threshold=0.5, nms_threshold=0.3):
    """Run the sliding-window detector on a (H, W) grey image -> its result dict."""
    det = SlidingWindowDetector(model, window_sizes=window_sizes, stride=stride,
                                score_threshold=score_threshold,
                                nms_threshold=nms_threshold).eval()
    return det(image[None, None])[0]


def draw(image, result, path):
    """Write the grey image with the detections ("face 0.97") as a PNG."""
    from .._atomic import atomic_write
    from ..utils.draw import draw_bounding_boxes

    rgb = np.repeat((np.clip(image, 0, 1) * 255).round().astype(np.uint8)[None], 3, axis=0)
    labels = [f"face {s:.2f}" for s in result["scores"]]
    pic = draw_bounding_boxes(rgb, result["boxes"], labels=labels, colors=(255, 40, 40),
                              width=2)

    def write(f):
        import matplotlib.image as mpimg
        mpimg.imsave(f, np.moveaxis(pic, 0, -1), format="png")

    atomic_write(path, write)


def cmd_sliding_window(args) -> int:
    try:
        image = read_photo(args.image)
        if not 0 < args.stride <= 1:
            raise ValueError(f"--stride is a fraction of the window in (0, 1], got "
                             f"{args.stride}")
        model = load_or_train(args.checkpoint, seed=args.seed)
        r = detect_faces(image, model, tuple(args.sizes), args.stride, args.score_threshold)
    except (OSError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return 2
    h, w = image.shape
    print(f"{args.image} ({w}x{h}): {r['num_windows']:,} windows of sizes "
          f"{', '.join(map(str, args.sizes))} classified in {r['seconds']:.2f} s "
          f"({r['seconds'] / r['num_windows'] * 1e6:.0f} us each); {len(r['boxes'])} after "
          f"score >= {args.score_threshold:g} and NMS")
    for b, s in zip(r["boxes"], r["scores"]):
        print(f"  face {s:.3f} at [{b[0]:.0f}, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f}]")
    if args.out:
        draw(image, r, args.out)
        print(f"-> {args.out}")
    return 0


def add_parser(act):
    """Add `sliding-window` to the `detect` actions `act`."""
    s = act.add_parser("sliding-window", help="slide a face / non-face CNN over a photo "
                                              "(trained here on scikit-image's LFW subset)")
    s.add_argument("image", help="an image file, or a scikit-image photo name (astronaut)")
    s.add_argument("--out", help="the PNG to write with the boxes")
    s.add_argument("--checkpoint", help="the classifier: loaded if the file exists, else "
                                        "trained (about a minute) and saved there")
    s.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96, 128],
                   help="window sides in pixels")
    s.add_argument("--stride", type=float, default=0.25, help="step, a fraction of the window")
    s.add_argument("--score-threshold", type=float, default=0.5)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(detect_fn=cmd_sliding_window)
    return s
