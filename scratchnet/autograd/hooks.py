"""The handle every `register_*hook` returns (torch.utils.hooks.RemovableHandle)."""
from __future__ import annotations

import itertools


class RemovableHandle:
    """Returned by `Module.register_forward_hook`, `register_forward_pre_hook` and
    `Tensor.register_hook`; `handle.remove()` takes the hook off again. Also a context
    manager: the hook is removed when the `with` block ends."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
