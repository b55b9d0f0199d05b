"""The yolo_v1 recipe trained for real, as `scratchnet detect train yolo_v1` runs it (slow:
minutes). It asserts the held-out mAP@0.5 this recipe measured, less 0.02 for run-to-run
differences in floating-point summation; issue 15's bar of 0.7 is not reached (see
scratchnet/detection/yolo_v1.py: digits under 8 pixels, a third of the test digits, are
mostly missed or misread)."""
import pytest

MEASURED_MAP = 0.569      # the default recipe: 8,000 scenes, 16 epochs, one thread


@pytest.mark.slow
def test_yolo_v1_recipe_trains_to_its_measured_map(tmp_path):
    from scratchnet.detection import engine

    model, history, report = engine.train("yolo_v1", out=str(tmp_path), progress=False,
                                          log=None)
    assert len(history) == history["epoch"][-1]
    assert report["n_images"] == 300
    assert report["map"] >= MEASURED_MAP - 0.02, report["map"]
    assert (tmp_path / "checkpoint.npz").stat().st_size > 0
