"""Hand-made or damaged checkpoint metadata and safetensors headers: always a ValueError that
names the file, never an AttributeError, TypeError or RecursionError from the parser."""
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.serialization import META_KEY, load, load_safetensors, write_npz

DEEP = 5000   # nesting far beyond Python's default recursion limit of 1000


def _npz_with_meta(path, meta_text):
    with open(path, "wb") as f:
        write_npz(f, {"w": np.arange(3.0), META_KEY: np.asarray(meta_text)})
    return path


def _meta(tree, **top):
    return json.dumps({"format": "scratchnet.checkpoint", "version": 1, "tree": tree, **top})


def _nested_tree_meta(depth):
    # built as text: json.dumps itself cannot encode nesting this deep
    tree = '{"t": "list", "items": [' * depth + '{"t": "none"}' + "]}" * depth
    return ('{"format": "scratchnet.checkpoint", "version": 1, "tree": ' + tree + "}")


BAD_META = {
    "not-json": "{not json",
    "a-number": "5",
    "a-list": "[1, 2]",
    "no-tree": json.dumps({"format": "scratchnet.checkpoint", "version": 1}),
    "string-version": _meta({"t": "none"}, version="one"),
    "tree-a-string": _meta("dict"),
    "tree-a-list": _meta([1, 2]),
    "no-kind": _meta({"items": []}),
    "items-not-pairs": _meta({"t": "dict", "items": [[1, 2, 3]]}),
    "items-a-number": _meta({"t": "dict", "items": 7}),
    "unhashable-key": _meta({"t": "dict", "items": [[[1], {"t": "none"}]]}),
    "entry-a-list": _meta({"t": "array", "e": ["w"]}),
    "missing-entry": _meta({"t": "array", "e": "nope"}),
    "int-from-vector": _meta({"t": "int", "e": "w"}),
    "numbers-no-seq": _meta({"t": "numbers", "e": "w"}),
    "unknown-kind": _meta({"t": "bogus", "e": "w"}),
    "deep-json": "[" * DEEP + "]" * DEEP,
    "deep-tree": _nested_tree_meta(DEEP),
}


@pytest.mark.parametrize("name", list(BAD_META))
def test_damaged_checkpoint_metadata_is_a_named_error(tmp_path, name):
    path = _npz_with_meta(tmp_path / "bad.npz", BAD_META[name])
    with pytest.raises(ValueError, match=r"^load: .*bad\.npz"):
        load(path)


def _safetensors(path, header, data=b""):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


BAD_HEADERS = {
    "entry-a-number": {"w": 5},
    "entry-a-list": {"w": [1, 2]},
    "dtype-a-list": {"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}},
    "dtype-unknown": {"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}},
    "shape-a-number": {"w": {"dtype": "F32", "shape": 3, "data_offsets": [0, 12]}},
    "shape-a-string": {"w": {"dtype": "F32", "shape": "abc", "data_offsets": [0, 12]}},
    "shape-negative": {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
    "shape-bool": {"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
    "shape-float": {"w": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}},
    "offsets-strings": {"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}},
    "offsets-three": {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}},
    "offsets-backwards": {"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}},
    "offsets-a-dict": {"w": {"dtype": "F32", "shape": [1], "data_offsets": {"a": 1}}},
    "metadata-a-list": {"__metadata__": [1, 2]},
    "metadata-values-numbers": {"__metadata__": {"k": 1}},
    "deep-json": ("[" * DEEP + "]" * DEEP).encode(),
    "not-utf8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("name", list(BAD_HEADERS))
def test_damaged_safetensors_header_is_a_named_error(tmp_path, name):
    path = _safetensors(tmp_path / "bad.safetensors", BAD_HEADERS[name], b"\0" * 4)
    with pytest.raises(ValueError, match=r"^load_safetensors: .*bad\.safetensors"):
        load_safetensors(path)


def test_damaged_safetensors_metadata_is_a_named_error(tmp_path):
    path = _safetensors(tmp_path / "bad.safetensors", {"__metadata__": "text"})
    with pytest.raises(ValueError, match="__metadata__ must map strings to strings"):
        sn.serialization.safetensors_metadata(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=5) | st.sampled_from(["dict", "list", "w", "F32", "BF16", "t", "e"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["t", "e", "items", "seq", "dtype", "shape",
                                      "data_offsets", "w"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_json)
def test_random_checkpoint_trees_load_or_raise_a_named_error(tmp_path, tree):
    path = _npz_with_meta(tmp_path / "fuzz.npz", _meta(tree))
    try:
        load(path)
    except ValueError as e:
        assert str(e).startswith("load: ")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.dictionaries(st.sampled_from(["w", "b", "__metadata__"]), _json, max_size=3))
def test_random_safetensors_headers_load_or_raise_a_named_error(tmp_path, header):
    path = _safetensors(tmp_path / "fuzz.safetensors", header, b"\0" * 8)
    try:
        load_safetensors(path)
    except ValueError as e:
        assert str(e).startswith("load_safetensors: ")
