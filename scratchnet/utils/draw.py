"""Drawing detections and masks onto images, and image grids (torchvision.utils' names).

Images are (C, H, W) uint8 arrays or Tensors, C = 1 or 3, as torchvision takes them; the
functions return a new (3, H, W) uint8 array (a Tensor when given one) and never modify
their input. Everything is rasterised with NumPy, so the pixels are exactly predictable:

- a box [x1, y1, x2, y2] is truncated to whole pixels (int(), as torchvision does) and
  covers columns x1..x2 and rows y1..y2 inclusive; its outline is the `width` pixels
  inside that rectangle nearest its edge;
- fill=True first blends the whole rectangle with the box colour at opacity 100/255
  (torchvision's fill alpha): round((100 * colour + 155 * pixel) / 255);
- a label is black-on-transparent text from matplotlib's Agg renderer, used as coverage to
  blend the box colour in, its top-left corner at (x1 + width + 1, y1 + width + 1).

Colours are matplotlib colour names or "#rrggbb" strings, or (r, g, b) tuples of 0-255
ints; by default boxes and masks take matplotlib's "tab10" colours in turn.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor


def _image(image, fn):
    img = image.data if isinstance(image, Tensor) else np.asarray(image)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        hint = (" (an (H, W, 3) image becomes (3, H, W) with image.transpose(2, 0, 1))"
                if img.ndim == 3 and img.shape[-1] in (1, 3) else "")
        raise ValueError(f"{fn}: expected an image of shape (C, H, W) with C = 1 or 3, got "
                         f"{tuple(img.shape)}{hint}")
    if img.dtype != np.uint8:
        raise TypeError(f"{fn}: expected a uint8 image (values 0-255), got {img.dtype}")
    return np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img.copy()


def _wrap(out, like):
    return Tensor(out) if isinstance(like, Tensor) else out


def _rgb(color, fn):
    if isinstance(color, str):
        from matplotlib.colors import to_rgb

        try:
            return tuple(int(round(255 * v)) for v in to_rgb(color))
        except ValueError:
            raise ValueError(f"{fn}: unknown colour {color!r}") from None
    c = tuple(int(v) for v in color)
    if len(c) != 3 or not all(0 <= v <= 255 for v in c):
        raise ValueError(f"{fn}: a colour must be a name or an (r, g, b) of 0-255, got "
                         f"{color!r}")
    return c


def _colors(colors, n, fn):
    """n (r, g, b) tuples: from a list, one colour for all, or the default cycle."""
    if colors is None:
        from matplotlib import colormaps

        tab = colormaps["tab10"].colors
        return [tuple(int(round(255 * v)) for v in tab[i % len(tab)]) for i in range(n)]
    if isinstance(colors, str) or (isinstance(colors, tuple) and len(colors) == 3
                                   and all(isinstance(v, (int, np.integer)) for v in colors)):
        return [_rgb(colors, fn)] * n
    colors = list(colors)
    if len(colors) < n:
        raise ValueError(f"{fn}: {len(colors)} colours for {n} boxes or masks; give at "
                         f"least one per item, or a single colour")
    return [_rgb(c, fn) for c in colors[:n]]


def _text_coverage(text, font_size):
    """(h, w) float coverage in [0, 1] of `text` rendered at font_size pixels (points at
    72 dpi) by matplotlib's Agg renderer, cropped to the inked pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = max(1, int(math.ceil(font_size * (len(text) + 2))))
    fig = Figure(figsize=(size / 72, 2 * font_size / 72), dpi=72)
    fig.patch.set_alpha(0)
    canvas = FigureCanvasAgg(fig)
    fig.text(0, 0.5, text, fontsize=font_size, color="black", va="center", ha="left")
    canvas.draw()
    alpha = np.asarray(canvas.buffer_rgba())[..., 3].astype(np.float64) / 255
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0))
    return alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _blend(region, color, coverage):
    """region (3, h, w) uint8 blended towards color with coverage (h, w) in [0, 1]."""
    c = np.asarray(color, np.float64)[:, None, None]
    mixed = region.astype(np.float64) * (1 - coverage) + c * coverage
    return np.floor(mixed + 0.5).astype(np.uint8)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill: bool = False,
                        width: int = 1, font=None, font_size=None):
    """Draw boxes (N, 4) xyxy in pixels on image (C, H, W) uint8 -> (3, H, W) uint8.

    labels: N strings drawn inside each box's top-left corner; colors: one per box or one
    for all; fill: blend the box's inside with its colour; width: outline thickness in
    pixels; font: a matplotlib font family name; font_size: text height in pixels
    (default 10). Boxes are drawn in order, later ones on top."""
    fn = "draw_bounding_boxes"
    img = _image(image, fn)
    b = boxes.data if isinstance(boxes, Tensor) else np.asarray(boxes)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{fn}: boxes must be (N, 4) [x1, y1, x2, y2], got shape "
                         f"{tuple(b.shape)}")
    if b.size and ((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])).any():
        k = int(np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))[0])
        raise ValueError(f"{fn}: box {k} = {b[k].tolist()} has x2 < x1 or y2 < y1; boxes "
                         f"must be [x1, y1, x2, y2] (see scratchnet.ops.box_convert)")
    if labels is not None and len(labels) != len(b):
        raise ValueError(f"{fn}: {len(labels)} labels for {len(b)} boxes")
    if width < 1:
        raise ValueError(f"{fn}: width must be at least 1 pixel, got {width}")
    cols = _colors(colors, len(b), fn)
    _, H, W = img.shape
    for k, box in enumerate(b):
        x1, y1, x2, y2 = (int(v) for v in box)   # truncation toward zero, as torchvision
        c0, c1 = max(x1, 0), min(x2, W - 1)
        r0, r1 = max(y1, 0), min(y2, H - 1)
        if c0 > c1 or r0 > r1:
            continue                                # wholly outside the image
        color = np.array(cols[k], np.uint8)[:, None, None]
        region = img[:, r0:r1 + 1, c0:c1 + 1]
        if fill:
            mixed = (100 * color.astype(np.int64) + 155 * region.astype(np.int64)) / 255
            region[...] = np.floor(mixed + 0.5).astype(np.uint8)
        ys = np.arange(r0, r1 + 1)[:, None]
        xs = np.arange(c0, c1 + 1)[None, :]
        edge = ((ys - y1 < width) | (y2 - ys < width) | (xs - x1 < width) | (x2 - xs < width))
        region[:, edge] = color[:, :, 0]
        if labels is not None and labels[k]:
            _put_text(img, str(labels[k]), x1 + width + 1, y1 + width + 1, cols[k],
                      font_size or 10, font)
    return _wrap(img, image)


def _put_text(img, text, x, y, color, font_size, font):
    import matplotlib

    with matplotlib.rc_context({"font.family": font} if font else {}):
        cover = _text_coverage(text, font_size)
    _, H, W = img.shape
    h, w = cover.shape
    r0, c0 = max(y, 0), max(x, 0)
    r1, c1 = min(y + h, H), min(x + w, W)
    if r0 >= r1 or c0 >= c1:
        return
    img[:, r0:r1, c0:c1] = _blend(img[:, r0:r1, c0:c1], color,
                                  cover[r0 - y:r1 - y, c0 - x:c1 - x])


def draw_segmentation_masks(image, masks, alpha: float = 0.8, colors=None):
    """Overlay masks (N, H, W) or (H, W) bool on image (C, H, W) uint8 -> (3, H, W) uint8.

    As torchvision: paint each mask's pixels with its colour on a copy (later masks on
    top), then mix image * (1 - alpha) + painted * alpha in float32 and truncate to uint8.
    alpha = 0 leaves the image, 1 paints opaquely."""
    fn = "draw_segmentation_masks"
    img = _image(image, fn)
    m = masks.data if isinstance(masks, Tensor) else np.asarray(masks)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1:] != img.shape[1:]:
        raise ValueError(f"{fn}: masks must be (N, H, W) or (H, W) with the image's H, W = "
                         f"{img.shape[1:]}, got {tuple(m.shape)}")
    if m.dtype != np.bool_:
        raise TypeError(f"{fn}: masks must be bool, got {m.dtype} (compare with a "
                        f"threshold, e.g. probabilities > 0.5, or labels == k)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{fn}: alpha must lie in [0, 1], got {alpha}")
    painted = img.copy()
    for mask, color in zip(m, _colors(colors, len(m), fn)):
        painted[:, mask] = np.array(color, np.uint8)[:, None]
    a = np.float32(alpha)
    out = img.astype(np.float32) * (np.float32(1) - a) + painted.astype(np.float32) * a
    return _wrap(out.astype(np.uint8), image)


def make_grid(images, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range=None, scale_each: bool = False, pad_value: float = 0.0):
    """Tile images (B, C, H, W) (or a list of (C, H, W)) into one (C', H', W') image, as
    torchvision.utils.make_grid: min(nrow, B) images per row, `padding` pixels of
    pad_value around every image, one-channel images repeated to three.
    H' = rows * (H + padding) + padding, W' = cols * (W + padding) + padding.
    normalize=True maps value_range (default: the min and max, per image with scale_each)
    to [0, 1]."""
    if isinstance(images, (list, tuple)):
        arr = np.stack([im.data if isinstance(im, Tensor) else np.asarray(im)
                        for im in images])
    else:
        arr = images.data if isinstance(images, Tensor) else np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), got shape {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    if normalize:
        arr = arr.astype(np.float32 if arr.dtype != np.float64 else np.float64)
        groups = [arr[i:i + 1] for i in range(len(arr))] if scale_each else [arr]
        for g in groups:
            lo, hi = value_range if value_range is not None else (g.min(), g.max())
            np.clip(g, lo, hi, out=g)
            g -= lo
            g /= max(hi - lo, 1e-5)
    B, C, H, W = arr.shape
    cols = min(nrow, B)
    rows = int(math.ceil(B / cols))
    grid = np.full((C, rows * (H + padding) + padding, cols * (W + padding) + padding),
                   pad_value, dtype=arr.dtype)
    for k in range(B):
        r, c = divmod(k, cols)
        y, x = r * (H + padding) + padding, c * (W + padding) + padding
        grid[:, y:y + H, x:x + W] = arr[k]
    return _wrap(grid, images)


def save_image_grid(images, path, labels=None, ncols: int = 8, title=None,
                    cell_inches: float = 1.6):
    """Save images side by side with a label under each as a PNG through matplotlib.
    images: (B, C, H, W) or (B, H, W) arrays/Tensors or a list of (C, H, W) / (H, W);
    uint8 shows as is, floats are shown as matplotlib scales them. Returns path."""
    from ..plotting import _plt

    ims = [im.data if isinstance(im, Tensor) else np.asarray(im) for im in
           (images.data if isinstance(images, Tensor) else images)]
    if labels is not None and len(labels) != len(ims):
        raise ValueError(f"save_image_grid: {len(labels)} labels for {len(ims)} images")
    if not ims:
        raise ValueError("save_image_grid: no images to save")
    plt = _plt()
    cols = min(ncols, len(ims))
    rows = int(math.ceil(len(ims) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell_inches, rows * cell_inches),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, im in enumerate(ims):
        if im.ndim == 3 and im.shape[0] in (1, 3):
            im = im.transpose(1, 2, 0)
        if im.ndim == 3 and im.shape[2] == 1:
            im = im[..., 0]
        ax = axes.ravel()[k]
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[k]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
