"""The malloc settings scratchnet makes at import step aside when asked to or when the user
has made their own."""
import sys

import pytest

from scratchnet import _allocator


def test_scratchnet_malloc_system_leaves_malloc_alone(monkeypatch):
    monkeypatch.setenv("SCRATCHNET_MALLOC", "system")
    assert _allocator.keep_freed_memory() is False


@pytest.mark.parametrize("name", ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                                  "GLIBC_TUNABLES"])
def test_the_users_own_malloc_settings_win(monkeypatch, name):
    monkeypatch.delenv("SCRATCHNET_MALLOC", raising=False)
    monkeypatch.setenv(name, "1048576")
    assert _allocator.keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_both_settings(monkeypatch):
    import ctypes.util
    if "libc.so.6" not in (ctypes.util.find_library("c") or ""):
        pytest.skip("not glibc")
    for name in ("SCRATCHNET_MALLOC", *_allocator._USER_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    assert _allocator.keep_freed_memory() is True
