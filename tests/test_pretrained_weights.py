"""Pretrained weights: torchvision's registry, the cache look-up, loading without torch,
the one-line error when a file is missing, and downloads from a local HTTP server.

No test downloads anything from the internet. Weight files are made here: random weights
saved under the published file name (the loader does not re-hash a cached file, as torch.hub
does not), or written by torch from a torchvision-keyed twin (tests/torch_twins.py).
"""
from __future__ import annotations

import hashlib
import inspect
import http.server
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.models as M
from scratchnet.data.datasets._download import IntegrityError
from scratchnet.models import pretrained as P
from tests.test_models_zoo import SPECS


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Empty scratchnet and torch caches."""
    monkeypatch.setenv("SCRATCHNET_HOME", str(tmp_path / "sn"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def test_registry_has_torchvisions_file_names_and_counts():
    weights = P.list_weights()
    assert len(weights) == 27
    for w in weights:
        assert w.url == P.BASE_URL + w.filename
        stem = w.filename.split("-")[0]
        assert stem.replace("shufflenetv2_x1", "shufflenet_v2_x1_0") == w.arch
        assert len(w.sha256_prefix) >= 8 and int(w.sha256_prefix, 16) >= 0
        # torchvision's meta["num_params"] agrees with the zoo's own published count
        assert w.num_params == SPECS[w.arch].count, w
    assert P.VGG19_Weights.IMAGENET1K_V1.filename == "vgg19-dcbb9e9d.pth"
    assert P.VGG19_Weights.DEFAULT is P.VGG19_Weights.IMAGENET1K_V1
    assert P.ResNet50_Weights.DEFAULT is P.ResNet50_Weights.IMAGENET1K_V2
    assert P.ResNet50_Weights.IMAGENET1K_V2.sha256_prefix == "11ad3fa6"
    assert P.ShuffleNet_V2_X1_0_Weights.DEFAULT.sha256_prefix == "5666bf0f80"
    assert P.MobileNet_V2_Weights.DEFAULT.name == "IMAGENET1K_V2"
    assert str(P.DenseNet121_Weights.DEFAULT) == "DenseNet121_Weights.IMAGENET1K_V1"
    assert [w.name for w in P.ResNet101_Weights.members()] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]


def test_every_registered_arch_is_a_zoo_constructor_taking_weights():
    for arch in P.REGISTRY:
        fn = getattr(M, arch)
        assert fn.__wrapped__.__name__ == arch
        assert "weights" in fn.__doc__
        # what code that asks "does this constructor take weights?" sees
        params = inspect.signature(fn).parameters
        assert params["weights"].default is None and "num_classes" in params


@pytest.mark.parametrize("spelling", ["DEFAULT", "IMAGENET1K_V2", "resnet50",
                                      "resnet50.IMAGENET1K_V2", "ResNet50_Weights.IMAGENET1K_V2",
                                      "resnet50-11ad3fa6.pth"])
def test_weight_spellings(spelling):
    assert P.get_weight(spelling, "resnet50") is P.ResNet50_Weights.IMAGENET1K_V2


def test_bad_weight_names_teach():
    with pytest.raises(ValueError, match="known: IMAGENET1K_V1, DEFAULT"):
        P.get_weight("IMAGENET1K_V9", "vgg19")
    with pytest.raises(ValueError, match="belong to resnet18, not vgg19"):
        P.get_weight(P.ResNet18_Weights.DEFAULT, "vgg19")
    with pytest.raises(TypeError, match='weights="DEFAULT"'):
        M.resnet18(weights=True)
    with pytest.raises(TypeError, match="ResNet18_Weights.DEFAULT"):
        M.resnet18(weights=P.ResNet18_Weights)


def test_missing_file_is_one_line_naming_file_places_and_command(home):
    with pytest.raises(P.WeightsNotFoundError) as info:
        M.vgg19(weights="DEFAULT")
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    assert "\n" not in msg
    assert "vgg19-dcbb9e9d.pth" in msg
    assert str(home / "sn" / "weights") in msg
    assert str(home / "torch" / "hub" / "checkpoints") in msg
    assert "scratchnet weights download vgg19.IMAGENET1K_V1" in msg
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in msg


def test_without_weights_the_constructors_are_unchanged(home):
    sn.manual_seed(0)
    model = M.squeezenet1_1(num_classes=10)
    assert model.classifier[1].out_channels == 10


def _random_state(arch, seed):
    sn.manual_seed(seed)
    return {k: v.data.copy() for k, v in getattr(M, arch)().state_dict().items()}


def test_constructor_loads_a_safetensors_copy_from_the_cache(home):
    state = _random_state("squeezenet1_1", 1)
    folder = home / "sn" / "weights"
    folder.mkdir(parents=True)
    M.save_state_file(state, str(folder / "squeezenet1_1-b8a52dc0.safetensors"))
    assert P.weights_path("squeezenet1_1") == str(folder / "squeezenet1_1-b8a52dc0.safetensors")
    model = M.squeezenet1_1(weights=M.SqueezeNet1_1_Weights.IMAGENET1K_V1)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, state[key], err_msg=key)
    with pytest.raises(ValueError, match="replace the last layer"):
        M.squeezenet1_1(num_classes=10, weights="DEFAULT")


def test_old_densenet_keys_and_missing_batchnorm_counters_load_as_torchvision_loads_them(home):
    state = _random_state("densenet121", 2)
    old = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue                        # files saved before PyTorch 0.4.1 lack them
        for part in ("norm", "relu", "conv"):
            for i in "12":
                key = key.replace(f".{part}{i}.", f".{part}.{i}.") if "denselayer" in key \
                    else key
        old[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    assert "features.denseblock1.denselayer1.conv.2.weight" in old
    assert "features.transition1.norm.weight" in old          # not in a dense layer: kept
    folder = home / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    M.save_state_file(old, str(folder / "densenet121-a639ec97.safetensors"))
    model = M.densenet121(weights="DEFAULT")
    for key, value in model.state_dict().items():
        expected = 0 if key.endswith("num_batches_tracked") else state[key]
        np.testing.assert_array_equal(value.data, expected, err_msg=key)


def test_googlenet_gets_transform_input_and_drops_the_aux_classifiers(home):
    sn.manual_seed(3)
    full = {k: v.data.copy() for k, v in M.googlenet(aux_logits=True).state_dict().items()}
    assert any(k.startswith("aux1.") for k in full)
    folder = home / "sn" / "weights"
    folder.mkdir(parents=True)
    M.save_state_file(full, str(folder / "googlenet-1378be20.safetensors"))
    model = M.googlenet(weights="DEFAULT")
    assert model.transform_input and model.aux1 is None and model.aux2 is None
    assert sum(p.numel() for p in model.parameters()) == 6_624_904
    np.testing.assert_array_equal(model.fc.weight.data, full["fc.weight"])
    with_aux = M.googlenet(weights="DEFAULT", aux_logits=True, transform_input=False)
    assert not with_aux.transform_input
    np.testing.assert_array_equal(with_aux.aux2.fc2.weight.data, full["aux2.fc2.weight"])


def test_a_pth_written_by_torch_in_the_torch_hub_cache_gives_torchs_logits(home):
    torch = pytest.importorskip("torch")
    from tests import torch_twins

    torch.manual_seed(0)
    twin = torch_twins.build("squeezenet1_1", 1000).eval()
    folder = home / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(twin.state_dict(), str(folder / "squeezenet1_1-b8a52dc0.pth"))
    model = M.squeezenet1_1(weights="DEFAULT").eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    with sn.no_grad():
        ours = model(sn.tensor(x)).data
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


class _Server:
    """A real HTTP server on 127.0.0.1 serving `files` (name -> bytes); counts requests."""

    def __init__(self, files):
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(monkeypatch):
    """A tiny file on a local server, registered as resnet18's weights under its own
    SHA-256 prefix (computed here from the bytes written here)."""
    body = np.random.default_rng(0).bytes(300_000)
    prefix = hashlib.sha256(body).hexdigest()[:8]
    name = f"resnet18-{prefix}.pth"
    server = _Server({name: body, "resnet18-0badbeef.pth": body})
    good = P.Weights("resnet18", "IMAGENET1K_V1", server.url + name, 11_689_512, 69.758)
    bad = P.Weights("resnet18", "IMAGENET1K_V2", server.url + "resnet18-0badbeef.pth",
                    11_689_512, 69.758)
    monkeypatch.setitem(P.REGISTRY, "resnet18", {"IMAGENET1K_V1": good, "IMAGENET1K_V2": bad,
                                                 "DEFAULT": good})
    yield server, body, good, bad
    server.close()


def test_download_checks_the_prefix_and_uses_the_cache(home, served):
    server, body, good, _ = served
    path = P.download_weights("resnet18")
    assert path == str(home / "sn" / "weights" / good.filename)
    with open(path, "rb") as f:
        assert f.read() == body
    assert P.weights_path("resnet18") == path
    P.download_weights("resnet18")                       # verified on disk, not fetched again
    assert len(server.requests) == 1
    P.download_weights("resnet18", force=True)
    assert len(server.requests) == 2


def test_a_download_with_the_wrong_checksum_leaves_nothing(home, served):
    server, _, _, bad = served
    with pytest.raises(IntegrityError, match="starts with 0badbeef"):
        P.download_weights("resnet18.IMAGENET1K_V2")
    folder = home / "sn" / "weights"
    assert not folder.exists() or os.listdir(folder) == []
    assert P.find_weights_file(bad) is None


def test_a_damaged_cached_copy_is_downloaded_again(home, served):
    server, body, good, _ = served
    folder = home / "sn" / "weights"
    folder.mkdir(parents=True)
    (folder / good.filename).write_bytes(body[:1000])
    P.download_weights("resnet18")
    assert (folder / good.filename).read_bytes() == body
    assert len(server.requests) == 1


def test_an_unreachable_server_is_named(home, monkeypatch):
    server = _Server({})
    url = server.url
    server.close()                                      # nothing listens there any more
    w = P.Weights("resnet18", "IMAGENET1K_V1", url + "resnet18-f37072fd.pth", 11_689_512, 0.0)
    monkeypatch.setitem(P.REGISTRY, "resnet18", {"IMAGENET1K_V1": w, "DEFAULT": w})
    with pytest.raises(ConnectionError, match="could not download " + url):
        P.download_weights("resnet18")


def test_cli_download_path_and_list(home, served, capsys):
    from scratchnet.cli import main

    server, body, good, _ = served
    assert main(["weights", "path", "resnet18"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and good.filename in err and "weights download" in err
    assert main(["weights", "download", "resnet18"]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    assert path == str(home / "sn" / "weights" / good.filename)
    assert main(["weights", "path", "ResNet18_Weights.IMAGENET1K_V1"]) == 0
    assert capsys.readouterr().out.strip() == path
    assert main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    assert "VGG19_Weights.IMAGENET1K_V1 (DEFAULT)" in listing and path in listing
    assert main(["weights", "download", "resnet18.IMAGENET1K_V2"]) == 1
    assert "0badbeef" in capsys.readouterr().err


def test_the_command_runs_as_a_program(home):
    out = subprocess.run([sys.executable, "-m", "scratchnet", "weights", "path", "alexnet"],
                         capture_output=True, text=True, env=os.environ.copy())
    assert out.returncode == 1
    assert "alexnet-owt-7be5be79.pth is not in" in out.stderr


def test_download_true_fetches_and_loads_a_file_written_by_torch(home, monkeypatch):
    """End to end: torch writes a torchvision-keyed state dict, a local server publishes it
    under its SHA-256 prefix, the constructor downloads, checks and loads it."""
    torch = pytest.importorskip("torch")
    import io

    from tests import torch_twins

    torch.manual_seed(1)
    twin = torch_twins.build("squeezenet1_1", 1000).eval()
    buffer = io.BytesIO()
    torch.save(twin.state_dict(), buffer)
    body = buffer.getvalue()
    name = f"squeezenet1_1-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    server = _Server({name: body})
    try:
        w = P.Weights("squeezenet1_1", "IMAGENET1K_V1", server.url + name, 1_235_496, 58.178)
        monkeypatch.setitem(P.REGISTRY, "squeezenet1_1", {"IMAGENET1K_V1": w, "DEFAULT": w})
        with pytest.raises(P.WeightsNotFoundError):
            M.squeezenet1_1(weights="DEFAULT")
        model = M.squeezenet1_1(weights="DEFAULT", download=True).eval()
        assert server.requests == ["/" + name]
    finally:
        server.close()
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    with sn.no_grad():
        ours = model(sn.tensor(x)).data
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
