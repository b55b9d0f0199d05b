"""One stage against two: detection speed of YOLO v1 and Faster R-CNN on the same held-out
DigitScenes scenes, each detector in its own processes (benchmarks/harness.py).

    python benchmarks/bench_detectors.py [--rounds 5] [--repeats 3] [--threads 1]
        [--yolo-checkpoint runs/detect_yolo_v1/checkpoint.npz]
        [--faster-checkpoint runs/detect_faster_rcnn/checkpoint.npz]

The workload is what the papers time: a test image in, detections out (eval mode, no
gradients; Faster R-CNN's proposals, YOLO's decoding and NMS included), one image at a time,
over the first 20 test scenes. The side "scratchnet" is YOLO v1 (the harness's reference
side), "faster_rcnn" Faster R-CNN, both by their `scratchnet detect` recipes, trained when a
checkpoint is given (the number of boxes that reach NMS depends on training) and freshly
initialised otherwise. The ratio faster_rcnn/scratchnet is how many times YOLO v1 is as fast.
Goal (issue 15): at least 3.
"""
from __future__ import annotations

import harness

CASE = "detect 20 scenes, one at a time"
N_SCENES = 20


def _detector(name, checkpoint):
    from scratchnet.detection import engine
    from scratchnet.detection.recipes import get_recipe

    if checkpoint:
        model, _ = engine.load_checkpoint(checkpoint)
        return model
    recipe = get_recipe(name)
    return recipe.build(recipe.config())


def _workload(name, checkpoint):
    import numpy as np

    import scratchnet as sn
    from scratchnet.detection import engine

    sn.manual_seed(0)
    model = _detector(name, checkpoint)
    model.eval()
    images = engine.collate([engine.test_scenes(N_SCENES)[i] for i in range(N_SCENES)])[0]
    data = np.asarray(images.data)

    def run():
        return [engine.predict(model, data[i:i + 1]) for i in range(len(data))]
    return {CASE: run}


def yolo_side(args):
    return _workload("yolo_v1", args.yolo_checkpoint)


def faster_side(args):
    return _workload("faster_rcnn", args.faster_checkpoint)


def add_arguments(ap):
    ap.add_argument("--yolo-checkpoint", default=None)
    ap.add_argument("--faster-checkpoint", default=None)


def report(result, args):
    by = result["cases"][CASE]
    rates = {side: N_SCENES / v["median"] for side, v in by.items()}
    for side, rate in rates.items():
        name = "YOLO v1" if side == harness.OURS else "Faster R-CNN"
        print(f"{name}: {rate:.1f} images per second")
    extra = {"images_per_second": rates}
    if "faster_rcnn" in rates and harness.OURS in rates:
        ratio = rates[harness.OURS] / rates["faster_rcnn"]
        print(f"YOLO v1 / Faster R-CNN speed: {ratio:.2f}x (goal: at least 3x)")
        extra["speedup"] = ratio
    return extra


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": yolo_side, "faster_rcnn": faster_side},
                 name="detectors", description=__doc__.splitlines()[0],
                 add_arguments=add_arguments, rounds=5, repeats=3, report=report)
