"""numba-compiled kernels on plain ndarrays. They know nothing of Tensors or autograd; each
file holds one algorithm with its shapes in the docstrings."""
