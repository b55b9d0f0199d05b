"""Cases for torch's names added to the core: relu6, layer_norm, group_norm, unfold, fold."""
import numpy as np

from scratchnet.nn import functional as F

from . import Case, Inp

N = Inp


def _affine_inputs(shape, param_shape, weight=True, bias=True):
    def draw(rng):
        out = [(rng.standard_normal(shape) * 2 + 0.5, True)]
        if weight:
            out.append((rng.uniform(0.5, 1.5, param_shape), True))
        if bias:
            out.append((rng.standard_normal(param_shape), True))
        return out
    return draw


def _relu6_inputs(shape):
    # spread over (-2, 8) so both kinks (0 and 6) have values on each side
    return lambda rng: [(rng.uniform(-2.0, 8.0, shape), True)]


CASES = [
    Case("relu6", "relu6", lambda a: F.relu6(a), _relu6_inputs((4, 5)),
         lambda t, a: t.nn.functional.relu6(a)),
    Case("relu6_odd", "relu6", lambda a: F.relu6(a * 1.5), _relu6_inputs((3, 1, 7)),
         lambda t, a: t.nn.functional.relu6(a * 1.5)),

    Case("layer_norm_last", "layer_norm", lambda x, w, b: F.layer_norm(x, (5,), w, b, 1e-5),
         _affine_inputs((3, 4, 5), (5,)),
         lambda t, x, w, b: t.nn.functional.layer_norm(x, (5,), w, b, 1e-5)),
    Case("layer_norm_chw", "layer_norm",
         lambda x, w, b: F.layer_norm(x, (3, 4, 2), w, b, 1e-3),
         _affine_inputs((2, 3, 4, 2), (3, 4, 2)),
         lambda t, x, w, b: t.nn.functional.layer_norm(x, (3, 4, 2), w, b, 1e-3)),
    Case("layer_norm_plain", "layer_norm", lambda x: F.layer_norm(x, 7),
         _affine_inputs((4, 7), (7,), False, False),
         lambda t, x: t.nn.functional.layer_norm(x, (7,))),
    Case("layer_norm_weight_only", "layer_norm", lambda x, w: F.layer_norm(x, (2, 3), w),
         _affine_inputs((5, 2, 3), (2, 3), bias=False),
         lambda t, x, w: t.nn.functional.layer_norm(x, (2, 3), w)),

    Case("group_norm_4d", "group_norm", lambda x, w, b: F.group_norm(x, 3, w, b),
         _affine_inputs((2, 6, 3, 4), (6,)),
         lambda t, x, w, b: t.nn.functional.group_norm(x, 3, w, b)),
    Case("group_norm_one_group", "group_norm", lambda x, w, b: F.group_norm(x, 1, w, b, 1e-3),
         _affine_inputs((3, 4, 2, 5), (4,)),
         lambda t, x, w, b: t.nn.functional.group_norm(x, 1, w, b, 1e-3)),
    Case("group_norm_instance", "group_norm", lambda x, w, b: F.group_norm(x, 4, w, b),
         _affine_inputs((2, 4, 3, 3), (4,)),
         lambda t, x, w, b: t.nn.functional.group_norm(x, 4, w, b)),
    Case("group_norm_2d_plain", "group_norm", lambda x: F.group_norm(x, 2),
         _affine_inputs((5, 6), (6,), False, False),
         lambda t, x: t.nn.functional.group_norm(x, 2)),
    Case("group_norm_3d", "group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
         _affine_inputs((2, 4, 7), (4,)),
         lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b)),

    Case("unfold_3x3", "unfold", lambda x: F.unfold(x, 3), [N((2, 3, 5, 5))],
         lambda t, x: t.nn.functional.unfold(x, 3)),
    Case("unfold_odd", "unfold",
         lambda x: F.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0), stride=(2, 1)),
         [N((2, 2, 7, 6))],
         lambda t, x: t.nn.functional.unfold(x, (3, 2), dilation=(1, 2), padding=(1, 0),
                                             stride=(2, 1))),
    Case("unfold_unbatched", "unfold", lambda x: F.unfold(x, 2, stride=2), [N((3, 4, 6))],
         lambda t, x: t.nn.functional.unfold(x, 2, stride=2)),
    # fold: k=3, s=1 on 5x5 -> 3x3 = 9 overlapping windows, C = 2 -> 18 rows
    Case("fold_overlap", "fold", lambda c: F.fold(c, (5, 5), 3), [N((2, 18, 9))],
         lambda t, c: t.nn.functional.fold(c, (5, 5), 3)),
    # (7 + 2*1 - 2*(3-1) - 1)/2 + 1 = 3 rows, (6 - 2)/1 + 1 = 5 cols -> L = 15; C*3*2 = 6
    Case("fold_odd", "fold",
         lambda c: F.fold(c, (7, 6), (3, 2), dilation=(2, 1), padding=(1, 0), stride=(2, 1)),
         [N((1, 6, 15))],
         lambda t, c: t.nn.functional.fold(c, (7, 6), (3, 2), dilation=(2, 1), padding=(1, 0),
                                           stride=(2, 1))),
    Case("fold_unbatched", "fold", lambda c: F.fold(c, (4, 6), 2, stride=2), [N((12, 6))],
         lambda t, c: t.nn.functional.fold(c, (4, 6), 2, stride=2)),
]
