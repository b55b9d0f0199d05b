"""The autograd engine: Tensor, Function, the graph and grad mode."""
from .engine import set_strict_dtypes, strict_dtypes_enabled
from .function import REGISTRY, Context, Function, register
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor

__all__ = ["REGISTRY", "Context", "Function", "register", "Tensor", "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "set_strict_dtypes", "strict_dtypes_enabled"]
