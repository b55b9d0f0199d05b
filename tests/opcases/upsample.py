"""Cases for upsampling: interpolate (nearest, bilinear, linear, bicubic) and bed of nails.

Shapes are small because each gradcheck runs two forwards per input element. The cases cover
integer and fractional scale factors (which index by 1/scale_factor, not in/out), sizes that
shrink one dimension while growing the other, non-square inputs, both align_corners, an
output of one pixel, and the size-preserving scale factor that PyTorch turns into a copy
(bilinear) or not (bicubic). Bicubic inputs of 1-3 pixels make every tap clamp at the border.
"""
import scratchnet.nn.functional as F

from . import Case, Inp


def _bed_of_nails_torch(t, a, sh, sw):
    """Zeros with the input written at every (sh*h, sw*w): the deck's picture, in PyTorch."""
    n, c, h, w = a.shape
    out = a.new_zeros((n, c, h * sh, w * sw))
    out[:, :, ::sh, ::sw] = a
    return out


def _interp(**kw):
    return (lambda a: F.interpolate(a, **kw),
            lambda t, a: t.nn.functional.interpolate(a, **kw))


def _case(name, op, shape, **kw):
    ours, theirs = _interp(**kw)
    return Case(name, op, ours, [Inp(shape)], theirs)


CASES = [
    # -- nearest ----------------------------------------------------------------------------------
    _case("nearest_x2", "interpolate_nearest", (2, 3, 3, 4), scale_factor=2),
    _case("nearest_size_nonsquare", "interpolate_nearest", (1, 2, 3, 5), size=(7, 4)),
    _case("nearest_frac_scale", "interpolate_nearest", (1, 2, 5, 4), scale_factor=(1.7, 2.5)),
    _case("nearest_recompute", "interpolate_nearest", (1, 2, 5, 4), scale_factor=(1.7, 2.5),
          recompute_scale_factor=True),
    _case("nearest_down", "interpolate_nearest", (1, 2, 6, 7), scale_factor=0.5),
    _case("nearest_1d", "interpolate_nearest", (2, 3, 5), size=8),
    _case("nearest_1d_scale", "interpolate_nearest", (2, 2, 4), scale_factor=1.5),
    Case("upsample_nearest_alias", "interpolate_nearest",
         lambda a: F.upsample_nearest(a, scale_factor=3), [Inp((1, 2, 2, 3))],
         lambda t, a: t.nn.functional.interpolate(a, scale_factor=3, mode="nearest")),
    # -- bilinear -------------------------------------------------------------------------------
    _case("bilinear_x2", "interpolate_bilinear", (2, 2, 3, 4), scale_factor=2,
          mode="bilinear"),
    _case("bilinear_x2_corners", "interpolate_bilinear", (2, 2, 3, 4), scale_factor=2,
          mode="bilinear", align_corners=True),
    _case("bilinear_size_nonsquare", "interpolate_bilinear", (1, 2, 3, 4), size=(7, 5),
          mode="bilinear", align_corners=False),
    _case("bilinear_size_corners", "interpolate_bilinear", (1, 2, 4, 3), size=(5, 8),
          mode="bilinear", align_corners=True),
    _case("bilinear_frac_mixed", "interpolate_bilinear", (1, 2, 4, 6), scale_factor=(1.5, 0.7),
          mode="bilinear"),
    _case("bilinear_to_one_pixel", "interpolate_bilinear", (1, 2, 3, 4), size=(1, 3),
          mode="bilinear", align_corners=True),
    _case("bilinear_same_size_copy", "interpolate_bilinear", (1, 2, 5, 3),
          scale_factor=(1.1, 2.0), mode="bilinear"),
    _case("bilinear_down", "interpolate_bilinear", (1, 2, 7, 6), size=(3, 4), mode="bilinear"),
    _case("linear_1d", "interpolate_bilinear", (2, 3, 4), scale_factor=2.5, mode="linear"),
    _case("linear_1d_corners", "interpolate_bilinear", (2, 2, 5), size=7, mode="linear",
          align_corners=True),
    Case("upsample_bilinear_alias", "interpolate_bilinear",
         lambda a: F.upsample_bilinear(a, size=(4, 5)), [Inp((1, 2, 2, 3))],
         lambda t, a: t.nn.functional.interpolate(a, size=(4, 5), mode="bilinear",
                                                  align_corners=True)),
    # a diamond: the input reaches the output along two paths, and both gradients must arrive
    Case("bilinear_diamond", "interpolate_bilinear",
         lambda a: (F.interpolate(a, scale_factor=2, mode="bilinear")
                    * F.interpolate(a, scale_factor=2)),
         [Inp((1, 2, 3, 3))],
         lambda t, a: (t.nn.functional.interpolate(a, scale_factor=2, mode="bilinear")
                       * t.nn.functional.interpolate(a, scale_factor=2))),
    # -- bicubic ------------------------------------------------------------------------------
    _case("bicubic_x3", "interpolate_bicubic", (2, 2, 4, 5), scale_factor=3, mode="bicubic"),
    _case("bicubic_x2_corners", "interpolate_bicubic", (1, 2, 4, 3), scale_factor=2,
          mode="bicubic", align_corners=True),
    _case("bicubic_size_nonsquare", "interpolate_bicubic", (1, 2, 3, 5), size=(8, 7),
          mode="bicubic"),
    _case("bicubic_size_corners", "interpolate_bicubic", (1, 1, 5, 4), size=(7, 9),
          mode="bicubic", align_corners=True),
    _case("bicubic_down", "interpolate_bicubic", (1, 2, 8, 7), size=(3, 4), mode="bicubic"),
    _case("bicubic_frac_mixed", "interpolate_bicubic", (1, 1, 5, 6), scale_factor=(1.7, 0.6),
          mode="bicubic"),
    _case("bicubic_same_size_blends", "interpolate_bicubic", (1, 1, 5, 3),
          scale_factor=(1.1, 2.0), mode="bicubic"),
    _case("bicubic_tiny_clamped", "interpolate_bicubic", (1, 2, 1, 2), size=(3, 5),
          mode="bicubic"),
    _case("bicubic_to_one_pixel", "interpolate_bicubic", (1, 1, 4, 3), size=(1, 2),
          mode="bicubic", align_corners=True),
    # -- bed of nails (no PyTorch function: built from zeros and a strided assignment) ---------
    Case("bed_of_nails_x2", "bed_of_nails", lambda a: F.bed_of_nails(a), [Inp((2, 3, 3, 4))],
         lambda t, a: _bed_of_nails_torch(t, a, 2, 2)),
    Case("bed_of_nails_2x3", "bed_of_nails", lambda a: F.bed_of_nails(a, (2, 3)),
         [Inp((1, 2, 3, 2))], lambda t, a: _bed_of_nails_torch(t, a, 2, 3)),
    Case("bed_of_nails_x1", "bed_of_nails", lambda a: F.bed_of_nails(a, 1) * a,
         [Inp((1, 2, 2, 3))], lambda t, a: _bed_of_nails_torch(t, a, 1, 1) * a),
]
