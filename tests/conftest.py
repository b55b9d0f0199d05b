import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scratchnet.autograd  # noqa: E402

# every test runs in strict dtype mode: a backward that returns a gradient in another dtype
# than its input (an op that silently computed float32 in float64) fails the test
scratchnet.autograd.set_strict_dtypes(True)
