"""Neural-network building blocks: Module and the layers (torch.nn's names), `init` for
weight initialisation, `functional` for the ops as functions."""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init"] + list(_modules_all)
