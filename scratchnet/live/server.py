"""The web server of `scratchnet live`: the standard library's ThreadingHTTPServer, sharing
one process with the trainer thread.

    GET  /                          the page (static/index.html, live.js, live.css)
    GET  /api/stats?token=T         the newest frame's numbers as JSON
    GET  /api/image/KIND.png?token=T&i=I    input | act | filters | test (I: layer or test image)
    POST /api/control               JSON {"action": "pause" | "resume" | "set" | "save" | "load",
                                    "values": {...}} with the header X-Scratchnet-Token: T

Safety: it listens on 127.0.0.1 unless told otherwise; every /api request needs the token
(compared in constant time), a state change needs it in a header that another site's page
cannot send without the browser asking first (and this server never says yes), and without
--host the Host header must name the loopback address, so a DNS-rebinding page cannot reach it
either. A bad control value gets a 400 with a message and changes nothing.
"""
from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .png import encode_png, tile, to_uint8
from .trainer import LiveError

STATIC = os.path.join(os.path.dirname(__file__), "static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
TOKEN_HEADER = "X-Scratchnet-Token"
MAX_BODY = 16 * 1024
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SECURITY_HEADERS = {
    # everything the page needs comes from this server; nothing is fetched from elsewhere
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",           # the token in the URL stays on this page
    "Cache-Control": "no-store",
}


class LiveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, trainer, host="127.0.0.1", port=0, token=None, check_host=True):
        self.trainer = trainer
        self.token = token or secrets.token_urlsafe(18)
        self.check_host = check_host
        self._png_cache = {}
        self._png_lock = threading.Lock()
        super().__init__((host, port), LiveHandler)

    @property
    def port(self):
        return self.server_address[1]

    def url(self, host="127.0.0.1"):
        return f"http://{host}:{self.port}/?token={self.token}"

    def token_ok(self, given) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"),
                                                              self.token.encode("utf-8"))

    def png(self, kind, i):
        """PNG bytes of one picture of the newest frame, encoded once per frame."""
        frame = self.trainer.frame
        key = (frame["stats"]["version"], kind, i)
        with self._png_lock:
            if key in self._png_cache:
                return self._png_cache[key]
        data = encode_png(render(frame, kind, i))
        with self._png_lock:
            if len(self._png_cache) > 64:
                self._png_cache.clear()
            self._png_cache[key] = data
        return data


def _image(chw, scale):
    """(C, H, W) in [-0.5, 0.5] -> uint8 (H*scale, W*scale[, 3])."""
    a = to_uint8(chw + 0.5, 0.0, 1.0)
    a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    return a.repeat(scale, axis=0).repeat(scale, axis=1)


def render(frame, kind, i):
    """The uint8 image of `kind` ("input", "act", "filters", "test") number i of a frame;
    LookupError when there is no such picture."""
    if kind == "input":
        return _image(frame["input"], 4)
    if kind == "test":
        images = frame["test_images"]
        if not 0 <= i < len(images):
            raise LookupError(f"test image {i} does not exist (0..{len(images) - 1})")
        return _image(images[i], 3)
    layers = frame["layers"]
    if not 0 <= i < len(layers):
        raise LookupError(f"layer {i} does not exist (0..{len(layers) - 1})")
    _, _, act, weight = layers[i]
    if kind == "act":
        if act.ndim == 3:           # one grey map per channel, on the layer's common scale
            h = act.shape[1]
            return tile(to_uint8(act), columns=10, scale=max(1, 48 // h))
        flat = to_uint8(act.reshape(-1))[:, None, None]
        return tile(flat, columns=len(flat), scale=16)
    if kind == "filters":
        if weight is None:
            raise LookupError(f"layer {i} has no weights")
        if weight.ndim == 4:
            o, c, kh, kw = weight.shape
            if c == 3:              # first-layer filters in colour, as the demo shows them
                return tile(to_uint8(weight).transpose(0, 2, 3, 1), columns=8,
                            scale=max(1, 24 // kh), gap=2)
            return tile(to_uint8(weight).reshape(o * c, kh, kw), columns=c,
                        scale=max(1, 12 // kh))
        if weight.ndim == 2:        # a fully connected layer: its weight matrix
            return to_uint8(weight).repeat(3, axis=0)
        raise LookupError(f"layer {i}'s weights have {weight.ndim} dimensions")
    raise LookupError(f"no picture kind {kind!r}: input, act, filters or test")


class LiveHandler(BaseHTTPRequestHandler):
    server_version = "scratchnet-live"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):      # the terminal shows the trainer, not requests
        pass

    def _send(self, status, body: bytes, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj, allow_nan=False).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _refuse(self, status, message):
        self._json(status, {"ok": False, "error": message})

    def _host_ok(self):
        if not self.server.check_host:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"{name}:{self.server.port}" for name in LOOPBACK_NAMES}

    def do_GET(self):
        if not self._host_ok():
            return self._refuse(HTTPStatus.FORBIDDEN, "this server answers only to "
                                f"127.0.0.1:{self.server.port}")
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path
        if path in ("/", "/index.html"):
            return self._static("index.html")
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        if not path.startswith("/api/"):
            return self._refuse(HTTPStatus.NOT_FOUND, f"no page {path}")
        if not self.server.token_ok(query.get("token", [None])[0]):
            return self._refuse(HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL "
                                "that `scratchnet live` printed")
        trainer = self.server.trainer
        if path == "/api/stats":
            return self._json(HTTPStatus.OK, trainer.frame["stats"])
        if path.startswith("/api/image/") and path.endswith(".png"):
            kind = path[len("/api/image/"):-len(".png")]
            try:
                i = int(query.get("i", ["0"])[0])
                data = self.server.png(kind, i)
            except ValueError:
                return self._refuse(HTTPStatus.BAD_REQUEST, "i must be a whole number")
            except LookupError as e:
                return self._refuse(HTTPStatus.NOT_FOUND, str(e))
            return self._send(HTTPStatus.OK, data, "image/png")
        return self._refuse(HTTPStatus.NOT_FOUND, f"no API {path}")

    do_HEAD = do_GET

    def _static(self, name):
        ext = os.path.splitext(name)[1]
        # only the files shipped in static/, by their plain names
        if ext not in STATIC_TYPES or name != os.path.basename(name) or \
                not os.path.isfile(os.path.join(STATIC, name)):
            return self._refuse(HTTPStatus.NOT_FOUND, f"no file {name}")
        with open(os.path.join(STATIC, name), "rb") as f:
            self._send(HTTPStatus.OK, f.read(), STATIC_TYPES[ext])

    def do_POST(self):
        if not self._host_ok():
            return self._refuse(HTTPStatus.FORBIDDEN, "this server answers only to "
                                f"127.0.0.1:{self.server.port}")
        length = self.headers.get("Content-Length")
        try:
            length = int(length)
        except (TypeError, ValueError):
            return self._refuse(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
        if not 0 <= length <= MAX_BODY:
            return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"the request body must be at most {MAX_BODY} bytes")
        body = self.rfile.read(length)
        if urlsplit(self.path).path != "/api/control":
            return self._refuse(HTTPStatus.NOT_FOUND, f"no API {self.path}")
        if not self.server.token_ok(self.headers.get(TOKEN_HEADER)):
            return self._refuse(HTTPStatus.FORBIDDEN, f"a control needs the token in the "
                                f"{TOKEN_HEADER} header")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                "send the control as application/json")
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"the body is not JSON ({e})")
        try:
            message = control(self.server.trainer, request)
        except LiveError as e:
            return self._refuse(HTTPStatus.BAD_REQUEST, str(e))
        self._json(HTTPStatus.OK, {"ok": True, "message": message,
                                   "paused": self.server.trainer.paused,
                                   "settings": self.server.trainer.settings})


def control(trainer, request) -> str:
    """Carry out one control request (a dict from the page); LiveError when it is bad."""
    if not isinstance(request, dict) or not isinstance(request.get("action"), str):
        raise LiveError('a control is a JSON object with an "action": pause, resume, set, '
                        'save or load')
    action = request["action"]
    if action == "pause":
        trainer.pause()
        return "paused"
    if action == "resume":
        trainer.resume()
        return "training"
    if action == "set":
        values = request.get("values")
        if not isinstance(values, dict) or not values:
            raise LiveError('"set" needs "values": {"lr": ..., "momentum": ..., '
                            '"batch_size": ..., "weight_decay": ..., "optimizer": ...}')
        trainer.update(values)
        return trainer.message
    if action == "save":
        return f"saved {trainer.save_checkpoint()}"
    if action == "load":
        trainer.load_checkpoint()
        return trainer.message
    raise LiveError(f"unknown action {action!r}: pause, resume, set, save or load")
