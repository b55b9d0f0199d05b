"""MNIST and Fashion-MNIST from their IDX files, with torchvision's constructor.

    train = MNIST(train=True, download=True, transform=ToTensor())
    x, y = train[0]             # x (1, 28, 28) float32 in [0, 1], y an int 0..9

Without a transform an example is the raw (28, 28) uint8 image and its int label, as
torchvision's (which gives a PIL image). Files are read from <root>/MNIST/raw/ (the layout
torchvision uses, so an existing torchvision download is found), gzipped or not.

IDX format (LeCun et al.): two zero bytes, a type byte (0x08 = uint8), the number of
dimensions, each dimension as a big-endian uint32, then the values in row-major order.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from ..dataset import InMemoryImageDataset
from ._download import IntegrityError, data_root, download_from_mirrors, verify_file

_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, name="IDX data", expect_ndim=None) -> np.ndarray:
    """The array stored in IDX bytes, in native byte order; IntegrityError when the header is
    wrong or the data is shorter or longer than the header promises."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise IntegrityError(f"{name} is not an IDX file: it starts with {raw[:4].hex()} "
                             f"instead of 0000 <type> <ndim>")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise IntegrityError(f"{name}: expected an IDX file of {expect_ndim} dimension(s), "
                             f"this one has {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IntegrityError(f"{name} is truncated: {len(raw)} bytes, shorter than its "
                             f"{header}-byte header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IntegrityError(f"{name} is truncated or corrupt: it has {len(raw)} bytes, but its "
                             f"header (shape {shape}, {dtype.name}) needs {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


def read_idx(path, expect_ndim=None) -> np.ndarray:
    """Read an IDX file, gzipped (name ends in .gz) or raw."""
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise IntegrityError(f"{path} is not a complete gzip file ({e}); it is probably "
                             f"truncated: delete it and download it again") from e
    return parse_idx(raw, path, expect_ndim)


class MNIST(InMemoryImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey.

    root:             directory holding <folder>/raw/ (default: $SCRATCHNET_DATA or
                      ~/.cache/scratchnet)
    train:            the training set (True) or the test set (False)
    transform:        applied to each (28, 28) uint8 image, e.g. ToTensor()
    target_transform: applied to each int label
    download:         fetch missing files from the mirrors, checking the published MD5

    .data is the (N, 28, 28) uint8 array, .targets the (N,) int64 labels.
    """

    folder = "MNIST"
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    # MD5 of the published gzip files, as torchvision's MNIST.resources lists them
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = data_root(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if self.train else "t10k"
        images = self._fetch(f"{prefix}-images-idx3-ubyte", download)
        labels = self._fetch(f"{prefix}-labels-idx1-ubyte", download)
        self.data = read_idx(images, expect_ndim=3)
        self.targets = read_idx(labels, expect_ndim=1).astype(np.int64)
        name = type(self).__name__
        if self.data.dtype != np.uint8:
            raise IntegrityError(f"{name}: {images} holds {self.data.dtype} values, "
                                 f"expected uint8 pixels")
        if len(self.data) != len(self.targets):
            raise IntegrityError(f"{name}: {images} has {len(self.data)} images but {labels} "
                                 f"has {len(self.targets)} labels")
        if self.targets.size and not 0 <= self.targets.min() <= self.targets.max() \
                < len(self.classes):
            raise IntegrityError(f"{name}: {labels} has labels outside 0..{len(self.classes) - 1}"
                                 f" (found {self.targets.min()}..{self.targets.max()})")

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.folder, "raw")

    def _fetch(self, stem, download):
        """Path of a verified file for `stem`: the .gz (checked against its published MD5)
        or, failing that, an uncompressed copy (checked by its IDX header and size)."""
        name = type(self).__name__
        gz = os.path.join(self.raw_folder, stem + ".gz")
        plain = os.path.join(self.raw_folder, stem)
        md5 = self.resources[stem + ".gz"]
        if os.path.exists(gz):
            try:
                verify_file(gz, md5=md5, who=name)
                return gz
            except IntegrityError:
                if not download:
                    raise
        elif os.path.exists(plain):
            return plain
        if not download:
            raise FileNotFoundError(
                f"{name}: {stem}.gz is not in {self.raw_folder}. Pass download=True to fetch "
                f"it from {self.mirrors[0]}{stem}.gz (MD5 {md5}), or save that file (or its "
                f"uncompressed copy {stem}) there yourself")
        return download_from_mirrors(stem + ".gz", self.mirrors, gz, md5=md5, who=name)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing."""

    folder = "FashionMNIST"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    # MD5 of the published gzip files, as torchvision's FashionMNIST.resources lists them
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
