"""`scratchnet live`: build the data, the model, the trainer and the server; serve until
Ctrl-C, then stop both cleanly and keep the last checkpoint."""
from __future__ import annotations

import os
import signal
import sys
import threading

from .data import CHOICES, LiveDataError, load_live_data
from .trainer import DEFAULTS, LiveError, LiveTrainer, check_settings


def add_parser(sub):
    from ..recipes import MODELS

    s = sub.add_parser("live", help="train in the background and watch it on a web page "
                                    "(deck 002's ConvNetJS demo)")
    s.add_argument("model", nargs="?", default="convnetjs_cifar10", choices=sorted(MODELS))
    s.add_argument("--data", default="auto", choices=CHOICES,
                   help="auto (default): CIFAR-10 when it is in the cache, else MNIST's "
                        "5,000-image sample (offline), else scikit-learn's digits")
    s.add_argument("--data-root", help="folder holding cifar-10-batches-py/")
    s.add_argument("--download", action="store_true", help="fetch CIFAR-10 when missing")
    s.add_argument("--port", type=int, default=8019,
                   help="port to listen on (default 8019; 0 picks a free one)")
    s.add_argument("--host", default=None,
                   help="address to listen on (default 127.0.0.1, this machine only). "
                        "Another address lets other machines reach the page: see the warning")
    s.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    s.add_argument("--out", default=os.path.join("runs", "live"),
                   help="folder for checkpoint.npz (default runs/live)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--paused", action="store_true", help="start paused")
    s.add_argument("--no-browser", action="store_true", help="do not open a browser")
    s.set_defaults(fn=main)
    return s


def _can_open_browser():
    # on Linux without a display, webbrowser would start a text browser in this terminal
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(args) -> int:
    from .. import random as sn_random
    from ..recipes import MODELS, RecipeError, build_model, prepare_out_dir
    from .server import LiveServer

    host = args.host or "127.0.0.1"
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be between 0 and 65535, got {args.port}")
        return 2
    try:
        settings = check_settings({"batch_size": args.batch_size})    # before any file or data
        out = prepare_out_dir(args.out)
        data = load_live_data(args.data, MODELS[args.model]["channels"], args.data_root,
                              args.download)
        sn_random.manual_seed(args.seed)          # the initial weights
        trainer = LiveTrainer(build_model(args.model, len(data.classes)), data, args.model,
                              out, seed=args.seed, settings=settings)
    except (LiveDataError, LiveError, RecipeError, FileNotFoundError, OSError) as e:
        print(f"error: {e}")
        return 2
    try:
        server = LiveServer(trainer, host, args.port, check_host=args.host is None)
    except OSError as e:
        print(f"error: cannot listen on {host}:{args.port} ({e.strerror or e}); choose another "
              f"port with --port, or --port 0 for any free one")
        return 2
    if args.host is not None and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: listening on {host}, not only on this machine: anyone who can reach "
              f"port {server.port} and sees the token can watch and control training, and "
              f"the traffic is plain, unencrypted HTTP. Use it on a network you trust.",
              file=sys.stderr, flush=True)
    url = server.url("127.0.0.1" if args.host is None else host)
    print(f"scratchnet live: {args.model} on {data.name}. {data.note}")
    print(f"open {url}", flush=True)
    print("Ctrl-C stops training and the server and saves the checkpoint to "
          f"{trainer.checkpoint_path}", flush=True)
    trainer.start(paused=args.paused)
    if not args.no_browser and _can_open_browser():
        import webbrowser
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        trainer.stop()
        try:
            path = trainer.save_checkpoint()
            print(f"\nstopped after {trainer.examples_seen:,} examples; checkpoint: {path}",
                  flush=True)
        except LiveError as e:
            print(f"\nstopped; {e}", flush=True)
    return 0
