"""scratchnet: a from-scratch deep-learning framework for teaching convolutional networks.

NumPy arrays, a small define-by-run autograd engine, numba-compiled vision kernels, and the
classic architectures as readable code. The API mirrors PyTorch's names so that what you learn
here carries over.
"""
import os as _os

# numba's parallel kernels run on OpenMP (GNU libgomp) threads, whose default is to spin for a
# while after each parallel region. On a 2-core machine those spinning threads take the cores
# from OpenBLAS's threads in the next matrix product, and a LeNet-5 training step became
# 3-4x slower (37 ms instead of 10 ms, measured with benchmarks/bench_training.py). Passive
# waiting gives the cores back at once. It must be set before libgomp starts; a value the user
# set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# freed memory stays with the process for the next training step instead of going back to
# the kernel and coming back as page faults (see _allocator.py; SCRATCHNET_MALLOC=system
# leaves malloc alone)
from . import _allocator  # noqa: E402,F401

from . import dtypes  # noqa: E402
from .autograd import (  # noqa: E402
    REGISTRY,
    Context,
    Function,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    register,
    set_grad_enabled,
)
from .creation import (  # noqa: E402
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (  # noqa: E402
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .gradcheck import GradcheckError, GradcheckReport, gradcheck  # noqa: E402
from .ops.methods import (  # noqa: E402
    abs,
    add,
    argmax,
    argmin,
    as_tensor,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    concatenate,
    div,
    eq,
    exp,
    expand,
    flatten,
    flip,
    ge,
    gt,
    le,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    ne,
    neg,
    pad,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    t,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .random import initial_seed, manual_seed  # noqa: E402
from .shapes import (conv_output_size, conv_transpose_output_size,  # noqa: E402
                     explain_conv_output_size, explain_conv_transpose_output_size)
from .conv_matrix import conv_matrix  # noqa: E402
from .serialization import load, load_safetensors, save, save_safetensors  # noqa: E402
from . import nn  # noqa: E402
from . import data, utils  # noqa: E402
from . import optim  # noqa: E402
from .receptive import receptive_field  # noqa: E402
from .summary import summary  # noqa: E402

float = float32
double = float64
long = int64

# Subpackages that `import scratchnet` does not load (the model zoo, the exercises, the lesson
# helpers, the training loop, plotting, the CLI): `sn.models.resnet18()` imports
# scratchnet.models on first use, as `torch.nn` or `torchvision.models` are at hand after one
# import, while `import scratchnet` stays fast.
_LAZY_SUBMODULES = ("models", "exercises", "lesson", "train", "recipes", "plotting", "cli")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))

__version__ = "0.1.0"
