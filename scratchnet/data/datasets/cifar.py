"""CIFAR-10 from its python-pickle batches, read safely, with torchvision's constructor.

    train = CIFAR10(train=True, download=True, transform=ToTensor())
    x, y = train[0]             # x (3, 32, 32) float32 in [0, 1], y an int 0..9

Without a transform an example is the raw (32, 32, 3) uint8 image and its int label, as
torchvision's (which gives a PIL image). Files are read from <root>/cifar-10-batches-py/
(torchvision's layout); the archive is downloaded to, or found in, <root>.

The batches are Python pickles. Unpickling can run arbitrary code, so they are read with an
unpickler that can build only dicts, lists, strings, numbers, bytes and NumPy arrays, and
refuses everything else (a tampered file fails with UnpicklingError, it never runs).
"""
from __future__ import annotations

import codecs
import os
import pickle
import shutil
import tarfile

import numpy as np

from ..._atomic import atomic_write
from ..dataset import InMemoryImageDataset
from ._download import IntegrityError, data_root, download_from_mirrors, verify_file

# the callables a pickled ndarray needs, taken from NumPy itself so that both the old
# (numpy.core) and new (numpy._core) module names map to them without importing either
_reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
_frombuffer = np.zeros(1).__reduce_ex__(5)[0]


def _latin1_encode(text, encoding="latin1"):
    # Python 3 pickles bytes for Python 2 readers as _codecs.encode(str, "latin1")
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


class _ArrayUnpickler(pickle.Unpickler):
    _allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a dataset batch may only contain dicts, "
                f"lists, strings, numbers and NumPy arrays") from None


def load_pickle_safely(path):
    """Unpickle a file that may only hold plain data and NumPy arrays (see module doc)."""
    with open(path, "rb") as f:
        try:
            # latin1 reads Python 2's str as text and lets NumPy recover its raw bytes
            return _ArrayUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(f"{path}: {e}") from None
        except (EOFError, ValueError, TypeError) as e:
            raise IntegrityError(f"{path} is not a readable pickle ({type(e).__name__}: {e}); "
                                 f"it may be truncated: delete it and download it again") from e


def _field(batch, key, path):
    for k in (key, key.encode("latin1")):
        if k in batch:
            return batch[k]
    raise IntegrityError(f"{path}: expected a dict with a {key!r} entry, found keys "
                         f"{sorted(map(str, batch))}")


class CIFAR10(InMemoryImageDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

    root:             directory holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA or
                      ~/.cache/scratchnet)
    train:            the five training batches (True) or the test batch (False)
    transform:        applied to each (32, 32, 3) uint8 image, e.g. ToTensor()
    target_transform: applied to each int label
    download:         fetch the archive if the batches are missing, checking its MD5

    .data is the (N, 32, 32, 3) uint8 array (HWC, as torchvision), .targets the (N,) int64
    labels.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    # MD5 of the published archive and of each batch inside it, as torchvision's CIFAR10 lists
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ]
    test_list = [("test_batch", "40351d587109b95175f43aff81a1287e")]
    meta = ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888")
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = data_root(root)
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        files = self.train_list if self.train else self.test_list
        self._ensure_files(files, download)
        images, labels = [], []
        for filename, _ in files:
            path = os.path.join(self.root, self.base_folder, filename)
            batch = load_pickle_safely(path)
            if not isinstance(batch, dict):
                raise IntegrityError(f"{path}: expected a dict, found {type(batch).__name__}")
            data = np.asarray(_field(batch, "data", path))
            target = np.asarray(_field(batch, "labels", path))
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                raise IntegrityError(f"{path}: 'data' should be uint8 of shape (N, 3072), "
                                     f"found {data.dtype} of shape {data.shape}")
            if target.shape != (len(data),) or target.dtype.kind not in "iu":
                raise IntegrityError(f"{path}: 'labels' should be {len(data)} ints, found "
                                     f"{target.dtype} of shape {target.shape}")
            images.append(data)
            labels.append(target.astype(np.int64))
        # stored as (N, C, H, W) rows; torchvision hands out HWC like a PIL image
        self.data = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = np.concatenate(labels)
        if self.targets.size and not 0 <= self.targets.min() <= self.targets.max() < 10:
            raise IntegrityError(f"{type(self).__name__}: labels outside 0..9 (found "
                                 f"{self.targets.min()}..{self.targets.max()})")

    def _batch_path(self, filename):
        return os.path.join(self.root, self.base_folder, filename)

    def _ensure_files(self, files, download):
        """Make every batch in `files` present and verified, extracting the archive if it is
        in `root` (or downloading it with download=True)."""
        name = type(self).__name__
        wanted = list(files) + [self.meta]
        missing = [f for f, _ in wanted if not os.path.exists(self._batch_path(f))]
        archive = os.path.join(self.root, self.filename)
        if missing:
            if not os.path.exists(archive):
                if not download:
                    raise FileNotFoundError(
                        f"{name}: {', '.join(missing)} not found in "
                        f"{os.path.join(self.root, self.base_folder)}. Pass download=True to "
                        f"fetch {self.url} (MD5 {self.tgz_md5}), or save that archive as "
                        f"{archive} yourself (it is unpacked on first use)")
                base, fname = self.url.rsplit("/", 1)
                download_from_mirrors(fname, [base + "/"], archive, md5=self.tgz_md5, who=name)
            else:
                verify_file(archive, md5=self.tgz_md5, who=name)
            self._extract(archive, [f for f, _ in wanted])
        for filename, md5 in wanted:
            verify_file(self._batch_path(filename), md5=md5, who=name)

    def _extract(self, archive, filenames):
        """Unpack only the named batch files, each written atomically; no path inside the
        archive is ever used as a destination."""
        folder = os.path.join(self.root, self.base_folder)
        os.makedirs(folder, exist_ok=True)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for filename in filenames:
                    member = f"{self.base_folder}/{filename}"
                    try:
                        info = tar.getmember(member)
                    except KeyError:
                        raise IntegrityError(f"{archive} has no {member}") from None
                    if not info.isfile():
                        raise IntegrityError(f"{archive}: {member} is not a regular file")
                    src = tar.extractfile(info)
                    atomic_write(os.path.join(folder, filename),
                                 lambda out: shutil.copyfileobj(src, out, 1 << 20))
        except (tarfile.TarError, EOFError, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise IntegrityError(f"{archive} cannot be unpacked ({e}); it is probably "
                                 f"truncated: delete it and download it again") from e
