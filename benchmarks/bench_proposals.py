"""Region-proposal speed: Felzenszwalb-Huttenlocher segmentation and selective search
("fast" mode) on a 500x375 photo (scikit-image's chelsea resized).

    python benchmarks/bench_proposals.py [--rounds 5] [--repeats 5]

Peer: scikit-image's felzenszwalb (Cython), the same algorithm; the segmentations must be the
same partition (the checksum is the segment sizes in order of each segment's first pixel).
Selective search has no peer installed here (the authors' code is MATLAB; OpenCV's
contrib module is not installable), so only its own time is shown; the decks quote 2-3 s on a
CPU for "about 2,000 regions". Each side runs in its own processes (benchmarks/harness.py).
Results go to benchmarks/results/proposals.json.
"""
from __future__ import annotations

import os
import sys

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

SEGMENT = "felzenszwalb k=100, 500x375"
SEARCH = "selective search fast, 500x375"


def photo():
    import numpy as np
    import skimage.data
    from skimage.transform import resize
    return resize(skimage.data.chelsea(), (375, 500), anti_aliasing=True).astype(np.float64)


def partition(labels):
    """Segment sizes in order of first appearance: equal for equal partitions."""
    import numpy as np
    _, first, counts = np.unique(labels.ravel(), return_index=True, return_counts=True)
    return counts[np.argsort(first)].tolist()


def ours(args):
    from scratchnet.models.detection import felzenszwalb, selective_search
    img = photo()

    def segment():
        return felzenszwalb(img, scale=100, sigma=0.8, min_size=100)

    def search():
        return selective_search(img, "fast")

    segment.checksum = partition
    search.checksum = lambda boxes: len(boxes)
    return {SEGMENT: segment, SEARCH: search}


def scikit_image(args):
    from skimage.segmentation import felzenszwalb
    img = photo()

    def segment():
        return felzenszwalb(img, scale=100, sigma=0.8, min_size=100, channel_axis=-1)

    segment.checksum = partition
    return {SEGMENT: segment}


def report(result, args):
    for case, ratio in harness.ratios(result, "skimage").items():
        print(f"{case}: scikit-image time / ours = {ratio:.2f}")
    return {}


if __name__ == "__main__":
    harness.main(__file__, {"scratchnet": ours, "skimage": scikit_image}, name="proposals",
                 description=__doc__.splitlines()[0], rounds=5, repeats=5, report=report)
