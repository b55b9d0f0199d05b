"""Grad mode: whether new operations are recorded for backward."""
from __future__ import annotations

import functools
import threading

class _State(threading.local):
    # per thread, as torch's grad mode; on by default in every thread
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode on entry and restores it on exit."""

    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside `with no_grad():` (or a function decorated `@no_grad()`) are not
    recorded: results have requires_grad=False and no graph is kept alive."""

    mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a `no_grad` block."""

    mode = True
