"""Datasets: scikit-learn's digits, MNIST/FashionMNIST from IDX files and CIFAR-10 from pickled
batches, all on small files the tests write, including downloads from a fake server."""
import gzip
import hashlib
import importlib
import importlib.util
import io
import os
import pickle
import struct
import sys
import tarfile
import urllib.error

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import CIFAR10, MNIST, DataLoader, FashionMNIST, IntegrityError, digits
from scratchnet.data import transforms as T
from scratchnet.data.datasets import _download

# the module, which the `digits` function of the same name hides in the package namespace
digits_module = importlib.import_module("scratchnet.data.datasets.digits")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# -- digits ----------------------------------------------------------------------------------

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="scikit-learn is not installed")


@pytest.fixture(scope="module")
def raw_digits():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = sklearn_datasets.load_digits()
    return bunch.images, bunch.target


@pytest.fixture(scope="module")
def splits():
    pytest.importorskip("sklearn")
    return digits("train"), digits("test")


def test_digits_sizes_shapes_and_range(splits):
    train, test = splits
    assert (len(train), len(test)) == (1437, 360)
    x, y = train[0]
    assert x.shape == (1, 32, 32) and x.dtype == np.float32 and isinstance(y, int)
    assert train.data.dtype == np.float32 and train.targets.dtype == np.int64
    assert 0.0 <= train.data.min() and train.data.max() <= 1.0 and train.data.max() > 0.99


def test_digits_split_is_stratified_disjoint_and_fixed(raw_digits, splits):
    _, labels = raw_digits
    tr, te = digits_module.stratified_split(labels, 360)
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(1797))
    counts = np.bincount(labels, minlength=10)
    test_counts = np.bincount(labels[te], minlength=10)
    assert np.all(test_counts > 0) and np.all(counts - test_counts > 0)
    assert np.all(np.abs(test_counts - 360 * counts / 1797) < 1)
    np.testing.assert_array_equal(splits[1].targets, labels[te])
    tr2, te2 = digits_module.stratified_split(labels, 360)
    np.testing.assert_array_equal(te, te2)


def test_digits_size_8_is_the_scans_over_16(raw_digits):
    images, labels = raw_digits
    small = digits("test", size=8)
    _, te = digits_module.stratified_split(labels, 360)
    np.testing.assert_allclose(small.data[:, 0], images[te] / 16.0, rtol=1e-7)


def test_digits_resize_matches_torch(raw_digits, splits):
    torch = pytest.importorskip("torch")
    images, labels = raw_digits
    tr, _ = digits_module.stratified_split(labels, 360)
    src = torch.from_numpy((images[tr[:20]] / 16.0)[:, None])
    ref = torch.nn.functional.interpolate(src, size=(32, 32), mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(splits[0].data[:20], ref, atol=1e-6)


@needs_sklearn
def test_digits_normalize_uses_train_statistics():
    train, test = digits("train", normalize=True), digits("test", normalize=True)
    assert abs(train.data.mean()) < 1e-4 and abs(train.data.std() - 1) < 1e-4
    assert (train.mean, train.std) == (test.mean, test.std)
    assert 0.1 < train.mean < 0.5


@needs_sklearn
def test_digits_loader_and_transform(splits):
    train = splits[0]
    x, y = next(iter(DataLoader(train, batch_size=16)))
    assert x.shape == (16, 1, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.data, train.data[:16])
    flipped = digits("train", transform=T.RandomHorizontalFlip(p=1.0))
    np.testing.assert_array_equal(flipped[5][0], train.data[5][:, :, ::-1])
    # an in-place transform must not change the dataset
    inplace = digits("train", transform=T.Normalize(0.5, 0.5, inplace=True))
    before = inplace.data[0].copy()
    inplace[0]
    np.testing.assert_array_equal(inplace.data[0], before)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    digits_module._load_raw.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match=r"pip install scratchnet\[datasets\]"):
            digits("train")
    finally:
        digits_module._load_raw.cache_clear()


def test_digits_argument_errors():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        digits("validation")
    with pytest.raises(ValueError, match="size"):
        digits("train", size=0)


# -- IDX files (MNIST) -----------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    """IDX as LeCun's page describes it, written independently of the reader."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


RNG = np.random.default_rng(0)
TRAIN_X = RNG.integers(0, 256, size=(12, 5, 4), dtype=np.uint8)     # non-square: 5 rows
TRAIN_Y = np.arange(12, dtype=np.uint8) % 10
TEST_X = RNG.integers(0, 256, size=(3, 5, 4), dtype=np.uint8)
TEST_Y = np.array([7, 2, 1], dtype=np.uint8)
FILES = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(TRAIN_X), mtime=0),
         "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(TRAIN_Y), mtime=0),
         "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(TEST_X), mtime=0),
         "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(TEST_Y), mtime=0)}


class TinyMNIST(MNIST):
    """MNIST's code with the test files' checksums and a fake mirror."""
    mirrors = ["https://mirror-a.invalid/mnist/", "https://mirror-b.invalid/mnist/"]
    resources = {name: md5(data) for name, data in FILES.items()}


def write_raw(root, files, folder="MNIST"):
    raw = os.path.join(root, folder, "raw")
    os.makedirs(raw, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(raw, name), "wb") as f:
            f.write(data)
    return raw


class FakeServer:
    """Stands in for urllib's urlopen: serves bytes by URL, records calls."""

    def __init__(self, files, down=()):
        self.files, self.down, self.calls = dict(files), set(down), []

    def __call__(self, url, timeout=None):
        self.calls.append((url, timeout))
        if any(url.startswith(d) for d in self.down):
            raise urllib.error.URLError("connection refused")
        if url not in self.files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(self.files[url])


def test_mnist_reads_gzipped_idx(tmp_path):
    write_raw(tmp_path, FILES)
    train = TinyMNIST(tmp_path, train=True)
    test = TinyMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(train.data, TRAIN_X)
    np.testing.assert_array_equal(test.targets, TEST_Y)
    assert train.targets.dtype == np.int64 and len(train) == 12 and len(test) == 3
    img, label = train[4]
    assert img.shape == (5, 4) and img.dtype == np.uint8 and label == 4


def test_mnist_reads_uncompressed_idx(tmp_path):
    # torchvision leaves unpacked copies next to the archives: those are read too
    write_raw(tmp_path, {name[:-3]: gzip.decompress(data) for name, data in FILES.items()})
    np.testing.assert_array_equal(TinyMNIST(tmp_path, train=False).data, TEST_X)


def test_mnist_with_to_tensor_and_loader(tmp_path):
    write_raw(tmp_path, FILES)
    ds = TinyMNIST(tmp_path, transform=T.ToTensor())
    x, y = ds[0]
    assert x.shape == (1, 5, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x.data[0], TRAIN_X[0] / np.float32(255), rtol=1e-7)
    bx, by = next(iter(DataLoader(ds, batch_size=5)))
    assert bx.shape == (5, 1, 5, 4) and by.dtype == np.int64
    # without a transform the loader indexes the arrays directly: same batches as items
    raw = TinyMNIST(tmp_path)
    fast = list(DataLoader(raw, batch_size=5, shuffle=True, generator=1))
    slow = list(DataLoader(raw, batch_size=5, shuffle=True, generator=1,
                           collate_fn=sn.data.default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.dtype == sx.dtype == np.uint8 and fy.dtype == sy.dtype == np.int64
        np.testing.assert_array_equal(fx.data, sx.data)
        np.testing.assert_array_equal(fy.data, sy.data)


def test_mnist_missing_file_explains_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        TinyMNIST(tmp_path)
    msg = str(info.value)
    assert "download=True" in msg
    assert "https://mirror-a.invalid/mnist/train-images-idx3-ubyte.gz" in msg
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg


def test_mnist_corrupt_file_fails_its_checksum(tmp_path):
    broken = dict(FILES)
    data = bytearray(broken["train-labels-idx1-ubyte.gz"])
    data[-5] ^= 0xFF
    broken["train-labels-idx1-ubyte.gz"] = bytes(data)
    write_raw(tmp_path, broken)
    with pytest.raises(IntegrityError, match=r"train-labels-idx1-ubyte\.gz is corrupt.*md5"):
        TinyMNIST(tmp_path)


def test_truncated_or_foreign_idx_is_refused(tmp_path):
    raw = idx_bytes(TRAIN_X)
    write_raw(tmp_path, {"train-images-idx3-ubyte": raw[:-7],
                         "train-labels-idx1-ubyte": idx_bytes(TRAIN_Y)})
    with pytest.raises(IntegrityError, match=r"train-images-idx3-ubyte is truncated.*needs 256"):
        TinyMNIST(tmp_path)
    write_raw(tmp_path, {"train-images-idx3-ubyte": b"PK\x03\x04" + raw[4:]})
    with pytest.raises(IntegrityError, match="not an IDX file"):
        TinyMNIST(tmp_path)
    write_raw(tmp_path, {"train-images-idx3-ubyte": idx_bytes(TRAIN_X[:5])})
    with pytest.raises(IntegrityError, match="5 images but .* 12 labels"):
        TinyMNIST(tmp_path)


def test_truncated_gzip_is_refused(tmp_path):
    from scratchnet.data.datasets.mnist import read_idx
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(FILES["train-images-idx3-ubyte.gz"][:-20])
    with pytest.raises(IntegrityError, match="x-idx1-ubyte.gz is not a complete gzip file"):
        read_idx(str(path))


def test_download_end_to_end_then_cache_hit(tmp_path, monkeypatch):
    server = FakeServer({TinyMNIST.mirrors[0] + name: data for name, data in FILES.items()})
    monkeypatch.setattr(_download, "urlopen", server)
    ds = TinyMNIST(tmp_path, train=True, download=True)
    np.testing.assert_array_equal(ds.data, TRAIN_X)
    assert len(server.calls) == 2 and all(t is not None and t > 0 for _, t in server.calls)
    raw = os.path.join(tmp_path, "MNIST", "raw")
    assert sorted(os.listdir(raw)) == ["train-images-idx3-ubyte.gz",
                                       "train-labels-idx1-ubyte.gz"]
    TinyMNIST(tmp_path, train=True, download=True)
    assert len(server.calls) == 2                 # verified from disk, not fetched again
    TinyMNIST(tmp_path, train=False, download=True)
    assert len(server.calls) == 4


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch):
    server = FakeServer({TinyMNIST.mirrors[1] + name: data for name, data in FILES.items()},
                        down=[TinyMNIST.mirrors[0]])
    monkeypatch.setattr(_download, "urlopen", server)
    ds = TinyMNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.data, TEST_X)
    assert [u.split("/")[2] for u, _ in server.calls] == ["mirror-a.invalid", "mirror-b.invalid"] * 2


def test_download_with_wrong_bytes_fails_checksum_and_leaves_nothing(tmp_path, monkeypatch):
    bad = {TinyMNIST.mirrors[0] + name: data[:-3] for name, data in FILES.items()}
    bad.update({TinyMNIST.mirrors[1] + name: b"<html>moved</html>" for name in FILES})
    monkeypatch.setattr(_download, "urlopen", FakeServer(bad))
    with pytest.raises(IntegrityError, match=r"train-images-idx3-ubyte\.gz.*md5"):
        TinyMNIST(tmp_path, download=True)
    assert os.listdir(os.path.join(tmp_path, "MNIST", "raw")) == []


def test_download_replaces_a_corrupt_cached_file(tmp_path, monkeypatch):
    broken = dict(FILES)
    broken["t10k-images-idx3-ubyte.gz"] = b"garbage"
    write_raw(tmp_path, broken)
    server = FakeServer({TinyMNIST.mirrors[0] + name: data for name, data in FILES.items()})
    monkeypatch.setattr(_download, "urlopen", server)
    ds = TinyMNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.data, TEST_X)
    assert [u.rsplit("/", 1)[1] for u, _ in server.calls] == ["t10k-images-idx3-ubyte.gz"]


def test_unreachable_server_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(_download, "urlopen", FakeServer({}, down=["https://"]))
    with pytest.raises(RuntimeError, match="could not download train-images-idx3-ubyte.gz"):
        TinyMNIST(tmp_path, download=True)


def test_default_root_is_scratchnet_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path))
    write_raw(tmp_path, FILES)
    assert TinyMNIST(train=False).root == str(tmp_path)
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert _download.data_root() == os.path.join(os.path.expanduser("~"), ".cache", "scratchnet")


def test_fashion_mnist_has_its_own_folder_and_checksums(tmp_path):
    assert FashionMNIST.folder == "FashionMNIST" and len(FashionMNIST.classes) == 10
    assert set(FashionMNIST.resources) == set(MNIST.resources)
    assert not set(FashionMNIST.resources.values()) & set(MNIST.resources.values())
    for table in (MNIST.resources, FashionMNIST.resources):
        assert all(len(v) == 32 and int(v, 16) >= 0 for v in table.values())
    with pytest.raises(FileNotFoundError, match="FashionMNIST"):
        FashionMNIST(tmp_path)


# -- CIFAR-10 pickled batches ----------------------------------------------------------------

class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as the published CIFAR batches were made by
    Python 2's cPickle; the reader must turn them back into arrays and dict keys."""

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_bytes


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    blob = py2_pickle({b"batch_label": b"batch", b"labels": labels, b"data": data,
                       b"filenames": [b"a.png"] * n})
    return data, labels, blob


BATCHES = {name: cifar_batch(n, seed) for name, n, seed in
           [("data_batch_1", 3, 1), ("data_batch_2", 2, 2), ("test_batch", 4, 3)]}
META = pickle.dumps({"label_names": ["airplane"] * 10}, protocol=2)


def cifar_files():
    files = {name: blob for name, (_, _, blob) in BATCHES.items()}
    files["batches.meta"] = META
    return files


def targz(files, extra=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in list(files.items()) + list(extra):
            info = tarfile.TarInfo(name if name.startswith("..") else
                                   f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ARCHIVE = targz(cifar_files())


class TinyCIFAR(CIFAR10):
    url = "https://cifar.invalid/cifar-10-python.tar.gz"
    tgz_md5 = md5(ARCHIVE)
    train_list = [(n, md5(BATCHES[n][2])) for n in ("data_batch_1", "data_batch_2")]
    test_list = [("test_batch", md5(BATCHES["test_batch"][2]))]
    meta = ("batches.meta", md5(META))


def write_batches(root, files):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def test_cifar_reads_python2_pickles_as_hwc(tmp_path):
    write_batches(tmp_path, cifar_files())
    train = TinyCIFAR(tmp_path, train=True)
    assert train.data.shape == (5, 32, 32, 3) and train.data.dtype == np.uint8
    raw1, labels1, _ = BATCHES["data_batch_1"]
    raw2, labels2, _ = BATCHES["data_batch_2"]
    # row layout: 1024 red values, then green, then blue, each row-major 32x32
    n, y, x = 1, 7, 30
    assert train.data[n, y, x, 0] == raw1[n, y * 32 + x]
    assert train.data[n, y, x, 2] == raw1[n, 2048 + y * 32 + x]
    assert train.data[4, 0, 1, 1] == raw2[1, 1024 + 1]
    assert train.targets.tolist() == labels1 + labels2 and train.targets.dtype == np.int64
    img, label = TinyCIFAR(tmp_path, train=False)[2]
    assert img.shape == (32, 32, 3) and label == BATCHES["test_batch"][1][2]
    x, _ = TinyCIFAR(tmp_path, transform=T.ToTensor())[0]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32


def test_cifar_unpacks_an_archive_already_in_root(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(ARCHIVE)
    assert len(TinyCIFAR(tmp_path, train=False)) == 4


def test_cifar_download_then_cache_hit(tmp_path, monkeypatch):
    server = FakeServer({TinyCIFAR.url: ARCHIVE})
    monkeypatch.setattr(_download, "urlopen", server)
    assert len(TinyCIFAR(tmp_path, download=True)) == 5
    assert len(TinyCIFAR(tmp_path, train=False, download=True)) == 4
    assert len(server.calls) == 1


def test_cifar_missing_and_corrupt(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"download=True.*cifar\.invalid"):
        TinyCIFAR(tmp_path)
    files = cifar_files()
    files["data_batch_2"] = files["data_batch_2"][:-100]
    write_batches(tmp_path, files)
    with pytest.raises(IntegrityError, match=r"data_batch_2 is corrupt or incomplete"):
        TinyCIFAR(tmp_path)
    monkeypatch.setattr(_download, "urlopen", FakeServer({TinyCIFAR.url: ARCHIVE[:-50]}))
    with pytest.raises(IntegrityError, match="md5"):
        TinyCIFAR(tmp_path / "fresh", download=True)
    assert os.listdir(tmp_path / "fresh") == []


def test_cifar_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2)

    class EvilCIFAR(TinyCIFAR):
        train_list = [("data_batch_1", md5(evil))]

    files = cifar_files()
    files["data_batch_1"] = evil
    write_batches(tmp_path, files)
    with pytest.raises(pickle.UnpicklingError, match=r"data_batch_1.*refusing to load "
                                                     r"(posix|os|nt)\.mkdir"):
        EvilCIFAR(tmp_path)
    assert not marker.exists()


def test_cifar_archive_paths_are_never_trusted(tmp_path):
    archive = targz(cifar_files(), extra=[("../escaped", b"x")])

    class Tar(TinyCIFAR):
        tgz_md5 = md5(archive)

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cifar-10-python.tar.gz").write_bytes(archive)
    assert len(Tar(tmp_path / "in", train=False)) == 4
    assert not (tmp_path / "escaped").exists()
