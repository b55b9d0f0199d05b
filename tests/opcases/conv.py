"""Cases for conv2d, conv1d and conv_transpose2d.

The grid covers what breaks hand-written convolutions: non-square inputs and kernels, strides
1-3 including ones that do not divide the input, per-dimension padding, dilation 2, groups
1 / 2 / C (depthwise, also with a channel multiplier), 1x1 kernels (they skip im2col),
padding='same' with an even kernel (asymmetric padding), output_padding > 0, batch 1 and 3,
unbatched inputs, with and without bias. Shapes stay small: gradcheck runs two forward passes
per input element.
"""
import scratchnet.nn.functional as F

from . import Case, Inp

N = Inp


def conv2d_case(name, x, w, bias=True, **kw):
    inputs = [N(x), N(w)] + ([N((w[0],))] if bias else [])
    return Case(name, "conv2d",
                lambda *a: F.conv2d(*a, **kw),
                inputs,
                lambda t, *a: t.nn.functional.conv2d(*a, **kw))


def conv1d_case(name, x, w, bias=True, **kw):
    inputs = [N(x), N(w)] + ([N((w[0],))] if bias else [])
    return Case(name, "conv1d",
                lambda *a: F.conv1d(*a, **kw),
                inputs,
                lambda t, *a: t.nn.functional.conv1d(*a, **kw))


def conv_t_case(name, x, w, bias=True, **kw):
    groups = kw.get("groups", 1)
    inputs = [N(x), N(w)] + ([N((w[1] * groups,))] if bias else [])
    return Case(name, "conv_transpose2d",
                lambda *a: F.conv_transpose2d(*a, **kw),
                inputs,
                lambda t, *a: t.nn.functional.conv_transpose2d(*a, **kw))


CASES = [
    # -- conv2d -------------------------------------------------------------------------------
    conv2d_case("conv2d_basic", (2, 3, 6, 7), (4, 3, 3, 3)),
    conv2d_case("conv2d_nonsquare_kernel", (1, 2, 7, 9), (3, 2, 3, 2), bias=False),
    conv2d_case("conv2d_stride2_nonsquare", (3, 2, 7, 8), (3, 2, 2, 3), stride=(2, 1)),
    conv2d_case("conv2d_stride3_does_not_divide", (3, 2, 8, 7), (2, 2, 3, 3), stride=3,
                padding=1),
    conv2d_case("conv2d_stride2_pad2_batch1", (1, 3, 8, 8), (4, 3, 5, 5), stride=2,
                padding=2),
    conv2d_case("conv2d_padding_per_dim", (2, 3, 5, 6), (4, 3, 3, 3), bias=False,
                padding=(2, 1)),
    conv2d_case("conv2d_dilation2", (2, 2, 9, 8), (3, 2, 3, 3), dilation=2, padding=2),
    conv2d_case("conv2d_groups2_alexnet", (2, 4, 6, 6), (6, 2, 3, 3), groups=2, padding=1),
    conv2d_case("conv2d_depthwise", (2, 3, 6, 7), (3, 1, 3, 3), groups=3, padding=1),
    conv2d_case("conv2d_depthwise_multiplier_stride2", (1, 2, 7, 7), (4, 1, 3, 3), groups=2,
                stride=2, padding=1, bias=False),
    conv2d_case("conv2d_depthwise_dilated_nonsquare", (3, 2, 6, 9), (2, 1, 2, 3), groups=2,
                dilation=(2, 1), stride=(1, 2)),
    conv2d_case("conv2d_pointwise", (3, 4, 5, 5), (6, 4, 1, 1)),
    conv2d_case("conv2d_pointwise_groups", (2, 4, 3, 5), (4, 2, 1, 1), groups=2, bias=False),
    conv2d_case("conv2d_pointwise_stride2", (1, 3, 5, 6), (2, 3, 1, 1), stride=2),
    conv2d_case("conv2d_same_even_kernel", (2, 2, 6, 7), (3, 2, 4, 3), padding="same"),
    conv2d_case("conv2d_same_dilated", (1, 2, 7, 6), (2, 2, 3, 2), padding="same",
                dilation=(2, 3), bias=False),
    conv2d_case("conv2d_valid", (2, 2, 6, 5), (3, 2, 3, 2), padding="valid"),
    conv2d_case("conv2d_unbatched", (3, 7, 6), (2, 3, 3, 3), stride=2),
    conv2d_case("conv2d_kernel_fills_input", (2, 2, 4, 5), (3, 2, 4, 5)),
    conv2d_case("conv2d_everything", (2, 4, 9, 10), (4, 2, 3, 2), stride=(2, 1),
                padding=(1, 2), dilation=(2, 1), groups=2),
    # -- conv1d -------------------------------------------------------------------------------
    conv1d_case("conv1d_basic", (2, 3, 10), (4, 3, 3)),
    conv1d_case("conv1d_stride2_pad2_dilation2", (3, 2, 11), (4, 2, 3), stride=2, padding=2,
                dilation=2, bias=False),
    conv1d_case("conv1d_groups2", (2, 4, 9), (4, 2, 3), groups=2),
    conv1d_case("conv1d_depthwise", (1, 3, 8), (3, 1, 5), groups=3, padding=2),
    conv1d_case("conv1d_same_even_kernel", (2, 2, 7), (3, 2, 4), padding="same"),
    conv1d_case("conv1d_unbatched", (3, 9), (2, 3, 2), stride=3),
    # -- conv_transpose2d ---------------------------------------------------------------------
    conv_t_case("conv_t_basic", (2, 3, 4, 5), (3, 2, 3, 3)),
    conv_t_case("conv_t_stride2_pad1_out_pad1", (1, 2, 3, 3), (2, 3, 3, 3), stride=2,
                padding=1, output_padding=1),
    conv_t_case("conv_t_nonsquare", (3, 2, 3, 4), (2, 3, 2, 3), stride=(2, 3),
                padding=(1, 0), output_padding=(1, 2), bias=False),
    conv_t_case("conv_t_groups2", (2, 4, 3, 3), (4, 3, 3, 3), groups=2, stride=2),
    conv_t_case("conv_t_depthwise", (2, 3, 4, 4), (3, 1, 3, 3), groups=3, stride=2,
                padding=1),
    conv_t_case("conv_t_dilation2_out_pad", (2, 2, 4, 4), (2, 2, 3, 3), dilation=2,
                padding=1, output_padding=1),
    conv_t_case("conv_t_fcn_k4_s2_p1", (1, 3, 4, 4), (3, 3, 4, 4), stride=2, padding=1),
    conv_t_case("conv_t_stride3_k5", (2, 3, 3, 3), (3, 1, 5, 5), stride=3, padding=2,
                bias=False),
    conv_t_case("conv_t_pointwise", (2, 4, 3, 3), (4, 2, 1, 1)),
    conv_t_case("conv_t_unbatched", (2, 3, 3), (2, 2, 3, 3), stride=2, output_padding=1),
]
