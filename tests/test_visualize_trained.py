"""Do saliency and Grad-CAM point at pixels that matter? A deletion test on a LeNet-5 trained
on the digits (slow: it trains for about 10 s): blank the 10% of pixels a map ranks highest in
each of 200 test digits and measure how much the predicted class's logit falls, against
blanking as many pixels chosen at random among the strokes.

Measured single-threaded under load (8 epochs, test accuracy 96.9%), mean fall of the logit:
saliency 1.12, Grad-CAM (features.4) 1.18, random stroke pixels 0.30, random pixels 0.14, and
the brightest pixels 3.36: the gradient ranks by sensitivity, not by contribution, so blanking
the strongest strokes hurts more; the bar below is the comparison with random strokes only."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import DataLoader, digits
from scratchnet.models import lenet5
from scratchnet.train import evaluate, fit
from scratchnet.visualize import deletion_drop, grad_cam, saliency


@pytest.mark.slow
def test_deletion_of_the_pixels_the_maps_rank_highest_hurts_more_than_random_strokes():
    sn.manual_seed(0)
    train_set, test_set = digits("train", normalize=True), digits("test", normalize=True)
    model = lenet5()
    fit(model, DataLoader(train_set, batch_size=32, shuffle=True, generator=0),
        sn.optim.Adam(model.parameters(), lr=3e-3), epochs=8, progress=False, log=None)
    assert evaluate(model, DataLoader(test_set, batch_size=360)).accuracy > 0.95
    model.eval()
    x = test_set.data[:200]
    blank = np.float32(train_set.data.min())

    def fall(ranking, k=102):
        return deletion_drop(model, x, ranking, k, blank)

    noise = np.random.default_rng(0).random((len(x), 32, 32))
    strokes = (x[:, 0] > blank + 0.5) + 1e-3 * noise         # random order, strokes first
    random_strokes = fall(noise * strokes)
    assert fall(saliency(model, sn.tensor(x))) > 2 * random_strokes
    assert fall(grad_cam(model, sn.tensor(x), "features.4") + 1e-9 * noise) > 2 * random_strokes
