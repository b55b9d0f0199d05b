"""Datasets, splits, collation and the DataLoader."""
from collections import namedtuple

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                             default_collate, random_split)


def _xy(n=10, dtype=np.float32):
    x = np.arange(n * 6, dtype=dtype).reshape(n, 1, 2, 3)
    y = (np.arange(n) % 3).astype(np.int64)
    return x, y


class ItemsOnly(Dataset):
    """A dataset without a batch path, counting item fetches."""

    def __init__(self, x, y):
        self.x, self.y, self.calls = x, y, 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.calls += 1
        return self.x[i], int(self.y[i])


# -- TensorDataset, Subset, ConcatDataset ----------------------------------------------------

def test_tensor_dataset_rows():
    x, y = _xy()
    ds = TensorDataset(sn.tensor(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, sn.Tensor) and isinstance(yi, sn.Tensor)
    np.testing.assert_array_equal(xi.data, x[3])
    assert yi.data.shape == () and yi.item() == 0 and yi.dtype == np.int64
    np.testing.assert_array_equal(ds[-1][0].data, x[9])


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"same first dimension.*\[3, 4\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(1.0))
    ds = TensorDataset(np.zeros((3, 2)))
    with pytest.raises(IndexError, match="index 3 is out of range for 3"):
        ds[3]
    with pytest.raises(TypeError, match="int"):
        ds[1.5]


def test_subset_and_concat():
    x, y = _xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    np.testing.assert_array_equal(sub[1][0].data, x[2])
    with pytest.raises(IndexError, match=r"\[-10, 10\)"):
        Subset(ds, [0, 10])
    both = ConcatDataset([sub, Subset(ds, [0, 1])])
    assert len(both) == 5
    np.testing.assert_array_equal(both[3][0].data, x[0])
    np.testing.assert_array_equal(both[2][0].data, x[5])
    assert len(sub + sub) == 6


# -- random_split ----------------------------------------------------------------------------

def test_random_split_lengths_and_disjoint():
    ds = TensorDataset(np.arange(20))
    parts = random_split(ds, [12, 5, 3], generator=0)
    assert [len(p) for p in parts] == [12, 5, 3]
    all_idx = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(all_idx), np.arange(20))


@pytest.mark.parametrize("n,fracs,sizes", [(10, [0.5, 0.3, 0.2], [5, 3, 2]),
                                           (11, [0.5, 0.5], [6, 5]),
                                           (7, [0.25, 0.25, 0.5], [2, 2, 3])])
def test_random_split_fractions(n, fracs, sizes):
    # floor(f * n) each, leftovers one by one to the first parts (PyTorch's rule)
    parts = random_split(TensorDataset(np.arange(n)), fracs, generator=1)
    assert [len(p) for p in parts] == sizes


def test_random_split_is_seeded():
    ds = TensorDataset(np.arange(50))
    a = random_split(ds, [25, 25], generator=3)[0].indices
    b = random_split(ds, [25, 25], generator=3)[0].indices
    c = random_split(ds, [25, 25], generator=4)[0].indices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    sn.manual_seed(11)
    d = random_split(ds, [25, 25])[0].indices
    sn.manual_seed(11)
    e = random_split(ds, [25, 25])[0].indices
    np.testing.assert_array_equal(d, e)


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"add\s+up to the dataset's 10 examples"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="add up to 1"):
        random_split(ds, [0.5, 0.4])


# -- default_collate -------------------------------------------------------------------------

def test_collate_numbers_take_torch_dtypes():
    ints = default_collate([1, 2, 3])
    floats = default_collate([1.0, 2.5])
    bools = default_collate([True, False])
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2, 3]
    assert floats.dtype == np.float32 and floats.tolist() == [1.0, 2.5]
    assert bools.dtype == np.bool_
    # NumPy scalars keep their own dtype
    assert default_collate([np.float64(1.0), np.float64(2.0)]).dtype == np.float64
    assert default_collate([np.uint8(1), np.uint8(2)]).dtype == np.uint8


def test_collate_stacks_arrays_and_tensors():
    a = [np.full((2, 3), k, dtype=np.float64) for k in range(4)]
    out = default_collate(a)
    assert isinstance(out, sn.Tensor) and out.shape == (4, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.data[:, 0, 0], [0, 1, 2, 3])
    t = default_collate([sn.tensor([1.0, 2.0]), sn.tensor([3.0, 4.0])])
    assert t.dtype == np.float32 and t.tolist() == [[1, 2], [3, 4]]


def test_collate_structures():
    Pair = namedtuple("Pair", "image label")
    batch = default_collate([Pair(np.zeros(2), 1), Pair(np.ones(2), 0)])
    assert isinstance(batch, Pair) and batch.label.tolist() == [1, 0]
    d = default_collate([{"x": np.zeros(3), "name": "a"}, {"x": np.ones(3), "name": "b"}])
    assert d["x"].shape == (2, 3) and d["name"] == ["a", "b"]
    tup = default_collate([(np.zeros(2), 1.5), (np.ones(2), 2.5)])
    lst = default_collate([[np.zeros(2), 1], [np.ones(2), 2]])
    assert isinstance(tup, tuple) and isinstance(lst, list)


def test_collate_errors_explain():
    with pytest.raises(ValueError, match=r"different shapes .*Resize"):
        default_collate([np.zeros((3, 4)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


# -- DataLoader ------------------------------------------------------------------------------

@pytest.mark.parametrize("n,bs,drop,expected", [(10, 3, False, [3, 3, 3, 1]),
                                                (10, 3, True, [3, 3, 3]),
                                                (9, 3, False, [3, 3, 3]),
                                                (2, 5, False, [2]), (2, 5, True, [])])
def test_loader_batch_sizes_and_len(n, bs, drop, expected):
    x, y = _xy(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop)
    sizes = [len(b[1]) for b in loader]
    assert sizes == expected and len(loader) == len(expected)


def test_loader_in_order_without_shuffle():
    x, y = _xy(7)
    xs = np.concatenate([bx.data for bx, _ in DataLoader(TensorDataset(x, y), batch_size=3)])
    np.testing.assert_array_equal(xs, x)


def test_shuffle_is_a_new_permutation_each_epoch():
    n = 50
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=8, shuffle=True, generator=5)
    epochs = [np.concatenate([b[0].data for b in loader]) for _ in range(3)]
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(n))
    # an int seed must not restart the same order every epoch
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    again = DataLoader(TensorDataset(np.arange(n)), batch_size=8, shuffle=True, generator=5)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in again]), epochs[0])


def test_shuffle_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    loader = DataLoader(ds, batch_size=30, shuffle=True)
    sn.manual_seed(123)
    first = next(iter(loader))[0].data.copy()
    sn.manual_seed(123)
    second = next(iter(loader))[0].data.copy()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, np.arange(30))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_equals_item_by_item(dtype):
    x, y = _xy(11, dtype)
    fast = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=2)
    slow = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=2,
                      collate_fn=default_collate)
    items = DataLoader(ItemsOnly(x, y), batch_size=4, shuffle=True, generator=2)
    for (fx, fy), (sx, sy), (ix, iy) in zip(fast, slow, items):
        for a, b in ((fx, sx), (fy, sy), (fx, ix), (fy, iy)):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.data, b.data)
        assert fx.dtype == dtype and fy.dtype == np.int64


def test_fast_path_skips_item_fetches_and_subset_uses_it():
    x, y = _xy(12)

    class Counting(TensorDataset):
        calls = 0

        def __getitem__(self, i):
            Counting.calls += 1
            return super().__getitem__(i)

    ds = Counting(x, y)
    batches = list(DataLoader(Subset(ds, [11, 0, 5, 6]), batch_size=3))
    assert Counting.calls == 0
    np.testing.assert_array_equal(batches[0][0].data, x[[11, 0, 5]])
    # without a batch path the loader falls back to items
    inner = ItemsOnly(x, y)
    out = list(DataLoader(Subset(inner, [3, 4]), batch_size=2))
    assert inner.calls == 2 and out[0][1].tolist() == [0, 1]


def test_loader_argument_errors():
    ds = TensorDataset(np.arange(3))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers=2 is not supported"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, generator="seed")


def test_custom_collate_fn_is_used():
    ds = TensorDataset(np.arange(4))
    out = list(DataLoader(ds, batch_size=2, collate_fn=lambda items: len(items)))
    assert out == [2, 2]


def test_torch_style_import_path():
    from scratchnet.utils.data import DataLoader as D2, TensorDataset as T2
    assert D2 is DataLoader and T2 is TensorDataset


def test_matches_torch_dataloader_batches():
    torch = pytest.importorskip("torch")
    x, y = _xy(10)
    ours = [(bx.data, by.data) for bx, by in DataLoader(TensorDataset(x, y), batch_size=4)]
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    for (ox, oy), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(ox, tx.numpy())
        np.testing.assert_array_equal(oy, ty.numpy())
    assert len(ours) == len(theirs)
