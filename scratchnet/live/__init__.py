"""`scratchnet live`: a page that watches a network train, like deck 002's ConvNetJS demo.

    scratchnet live [MODEL] [--data auto|cifar10|mnist-5k|digits] [--port] [--host]

data.py reads the images, trainer.py trains in a background thread and publishes a frame about
once a second, server.py serves the page (static/) and the frames with the standard library's
HTTP server, png.py writes the pictures.
"""
from .data import LiveData, load_live_data
from .server import LiveServer
from .trainer import LiveError, LiveTrainer

__all__ = ["LiveData", "LiveError", "LiveServer", "LiveTrainer", "load_live_data"]
