"""`scratchnet inside MODEL IMAGE --out DIR`: what a trained CNN sees in one image.

    scratchnet inside runs/lenet5/checkpoint.npz test:0 --out runs/lenet5/inside
    scratchnet inside runs/lenet5/checkpoint.npz my_digit.png --invert
    scratchnet inside alexnet cat.jpg --out inside_alexnet     (needs the ImageNet weights)

MODEL is a checkpoint written by `scratchnet train` (lenet5 on digits, MNIST or Fashion-MNIST,
convnetjs_cifar10 on CIFAR-10) or the name of a zoo model with torchvision's ImageNet weights
in the weight cache. IMAGE is an image file (PNG, or JPEG through Pillow), or `test:N`, the
N-th image of the checkpoint's own test set: scikit-learn's digits exist only as arrays, so
this is how to look at the images the model was tested on.

Writes into DIR: input.png (the image as the model receives it), filters.png (the first
layer), maps_<layer>.png (the feature maps of every convolution), deconvnet.png (Zeiler &
Fergus projections of the strongest channels of one layer), saliency.png and gradcam.png.
"""
from __future__ import annotations

import os

import numpy as np

from . import visualize as V

IMAGENET_MODELS = ("alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
                   "vgg16_bn", "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101",
                   "resnet152", "resnext50_32x4d", "densenet121", "densenet169", "googlenet",
                   "mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_0", "squeezenet1_1")
# torchvision's ImageNet preprocessing: RGB in [0, 1], then per channel (x - mean) / std
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InsideError(ValueError):
    """Bad input to `scratchnet inside`; the message is one line."""


def pretrained(name: str):
    """(model with torchvision's ImageNet weights, None), or (None, the one-line reason they
    are not available). The weights come from the weight cache (`weights=` of the zoo
    constructors); nothing random is ever passed off as pretrained."""
    from . import models

    try:
        return getattr(models, name)(weights="IMAGENET1K_V1"), None
    except FileNotFoundError as e:       # models.pretrained.WeightsNotFoundError
        return None, str(e).splitlines()[0] if str(e) else f"no ImageNet weights for {name}"


def _read_image_file(path, channels):
    """(H, W) or (3, H, W) float64 in [0, 1] from a PNG/JPEG file."""
    import matplotlib.image as mpimg

    if not os.path.isfile(path):
        raise InsideError(f"no image file at {path}; give a PNG or JPEG file, or test:N for "
                          f"the N-th image of the model's test set")
    try:
        img = np.asarray(mpimg.imread(path))
    except Exception as e:     # matplotlib/Pillow raise several kinds for a bad file
        raise InsideError(f"cannot read {path} as an image ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else 'unreadable'})") from None
    if img.dtype.kind in "ui":
        img = img / float(np.iinfo(img.dtype).max)
    img = img.astype(np.float64)
    if img.ndim == 3:
        img = img[..., :3]                         # drop alpha
        if img.shape[2] == 1:
            img = img[..., 0]
    if img.ndim not in (2, 3) or min(img.shape[:2]) < 1:
        raise InsideError(f"{path}: expected a grey or colour image, got an array of shape "
                          f"{img.shape}")
    if channels == 1:
        return img if img.ndim == 2 else img @ np.array([0.299, 0.587, 0.114])
    return np.stack([img] * 3) if img.ndim == 2 else np.moveaxis(img, -1, 0)


def prepare_image(path, data_name, invert=False):
    """An image file as the model trained on `data_name` receives it: (1, C, H, W) float32.

    digits: grey, 32 x 32, standardised with the training split's mean and std; mnist and
    fashion-mnist: grey, 28 x 28 padded by 2 to 32 x 32; cifar10: colour 32 x 32 in [0, 1];
    imagenet: colour 224 x 224, torchvision's mean/std. invert=True turns dark strokes on
    light paper into the light-on-dark digits the datasets hold.
    """
    from .data import transforms as T

    channels = 3 if data_name in ("cifar10", "imagenet") else 1
    img = _read_image_file(path, channels)
    if invert:
        img = 1.0 - img
    img = img.astype(np.float32)
    if data_name == "imagenet":
        x = T.resize(img, 224)
        x = (x - np.float32(IMAGENET_MEAN)[:, None, None]) / np.float32(IMAGENET_STD)[:, None,
                                                                                        None]
    elif data_name in ("mnist", "fashion-mnist"):
        x = np.pad(T.resize(img, 28), 2)[None]
    elif data_name == "cifar10":
        x = T.resize(img, 32)
    else:
        from .data import digits

        train = digits("train", normalize=True)
        x = ((T.resize(img, 32) - np.float32(train.mean)) / np.float32(train.std))[None]
    return np.ascontiguousarray(x[None], dtype=np.float32)


def test_image(spec, data_name, data_root=None):
    """(1, C, H, W) image and its label for `test:N` from the dataset a checkpoint names."""
    from .recipes import datasets

    try:
        index = int(spec.split(":", 1)[1])
    except ValueError:
        raise InsideError(f"{spec!r}: write test:N with a whole number N, e.g. test:0") \
            from None
    channels = 3 if data_name == "cifar10" else 1
    _, test = datasets(data_name, data_root, augment=False, channels=channels)
    if not 0 <= index < len(test):
        raise InsideError(f"{spec}: the {data_name} test set has {len(test)} images, "
                          f"0..{len(test) - 1}")
    x, y = test[index]
    x = np.asarray(getattr(x, "data", x), np.float32)
    return x[None], int(y)


def load_model(spec, data_root=None):
    """(model, data name, class names) for a checkpoint path or an ImageNet zoo name."""
    from .recipes import CLASS_NAMES, RecipeError, load_classifier, read_checkpoint

    if spec in IMAGENET_MODELS:
        model, reason = pretrained(spec)
        if model is None:
            raise InsideError(f"{reason}; without ImageNet weights look inside a model "
                              f"trained here (scratchnet train lenet5, then "
                              f"runs/lenet5/checkpoint.npz)")
        return model, "imagenet", None
    from . import models

    if not os.path.exists(spec) and callable(getattr(models, spec, None)):
        raise InsideError(f"{spec}: torchvision publishes no ImageNet weights for it, so there "
                          f"is nothing trained to look at; give a checkpoint from `scratchnet "
                          f"train` or one of {', '.join(IMAGENET_MODELS[:5])}, ...")
    if not os.path.exists(spec) and os.sep not in spec and not spec.endswith(".npz"):
        raise InsideError(f"{spec!r} is neither a checkpoint file nor a zoo model with "
                          f"ImageNet weights ({', '.join(IMAGENET_MODELS[:5])}, ...)")
    try:
        ckpt = read_checkpoint(spec)
        meta = ckpt["meta"]
        if meta.get("task") == "segmentation":
            raise InsideError(f"{spec} is a segmentation checkpoint ({meta['model']}); "
                              f"`scratchnet inside` looks at classifiers (lenet5, "
                              f"convnetjs_cifar10)")
        model = load_classifier(ckpt, spec)
    except RecipeError as e:
        raise InsideError(str(e).splitlines()[0]) from None
    names = CLASS_NAMES.get(meta["data"]) or [str(i) for i in range(10)]
    return model, meta["data"], names


def map_layers(model, x):
    """Names of the layers whose feature maps are worth drawing: each convolution and each
    non-linearity that outputs maps larger than 1 x 1, in the order they run."""
    from . import nn

    modules = dict(model.named_modules())
    names = [n for n in V.layer_names(model)
             if isinstance(modules[n], (nn.Conv2d,) + V.ACTIVATIONS)]
    maps = V.feature_maps(model, x, names)
    return [n for n in names if maps[n].ndim == 4 and np.prod(maps[n].shape[2:]) > 1], maps


def _show(x):
    """(H, W) or (H, W, 3) in [0, 1] for imshow: each image min-max scaled."""
    a = np.asarray(x, np.float64)
    a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
    return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)


def write_figures(model, x, out, class_names=None, layer=None, target=None, top=8,
                  log=print):
    """Every picture of `scratchnet inside` for one image x (1, C, H, W); returns the paths.
    layer: where the deconvnet projections and Grad-CAM look (default: the last layer with
    maps larger than 1 x 1 that the deconvnet can walk back from)."""
    from .plotting import _plt
    from .utils.draw import make_grid

    logits = V.class_scores(model, x)[0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    pred = int(np.argmax(logits))
    name = (lambda k: class_names[k] if class_names and k < len(class_names) else str(k))
    if target is not None and not 0 <= target < len(logits):
        raise InsideError(f"--target {target}: the model has {len(logits)} classes, "
                          f"0..{len(logits) - 1}")
    cls = pred if target is None else target
    log(f"prediction: {name(pred)} ({probs[pred]:.1%}); explaining class {name(cls)}")
    layers, maps = map_layers(model, x)
    if layer is None:
        layer = _default_layer(model, x, layers)
    elif layer not in layers:
        if layer not in V.layer_names(model):
            what = "no such layer"
        else:
            shape = V.feature_maps(model, x, layer)[layer].shape
            what = None if len(shape) == 4 and np.prod(shape[2:]) > 1 else \
                f"it outputs {tuple(shape)}, not feature maps larger than 1 x 1"
        if what:
            raise InsideError(f"--layer {layer!r}: {what}; layers with feature maps: "
                              f"{', '.join(layers)}")
    os.makedirs(out, exist_ok=True)
    paths = {}
    plt = _plt()

    def save(fig, filename):
        path = os.path.join(out, filename)
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths[filename] = path

    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(_show(x[0]), cmap="gray", interpolation="nearest")
    ax.set_title(f"input: predicted {name(pred)} ({probs[pred]:.0%})", fontsize=9)
    ax.axis("off")
    save(fig, "input.png")

    def save_grid(images, filename, title, nrow=8):
        """images (B, C, h, w), each scaled to [0, 1] on its own, tiled with white lines."""
        grid = np.moveaxis(make_grid(np.asarray(images, np.float64), nrow=nrow, padding=1,
                                     normalize=True, scale_each=True, pad_value=1.0), 0, -1)
        fig, ax = plt.subplots(figsize=(min(12, 1.5 + grid.shape[1] / 16),
                                        min(12, 1 + grid.shape[0] / 16)))
        ax.imshow(grid, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        save(fig, filename)

    conv_name, conv = V.first_conv(model)
    k = conv.weight.shape
    weight = conv.weight.data
    if k[1] not in (1, 3):
        weight = weight.reshape(k[0] * k[1], 1, k[2], k[3])
    save_grid(weight, "filters.png", f"{conv_name}: {k[0]} filters, each {k[1]} x {k[2]} x "
                                     f"{k[3]}", nrow=8 if k[1] in (1, 3) else k[1])
    for n in layers:
        m = maps[n][0]
        save_grid(m[:32, None], f"maps_{n}.png",
                  f"{n}: {m.shape[0]} maps of {m.shape[1]} x {m.shape[2]}"
                  + (" (first 32)" if m.shape[0] > 32 else "") + ", each scaled on its own")
    try:
        act = V.feature_maps(model, x, layer)[layer][0]
        strongest = np.argsort(-act.reshape(len(act), -1).max(axis=1))[:top]
        pictures = [V.deconv_projection(model, x, layer, channel=int(c))[0]
                    for c in strongest]
        save_grid(pictures, "deconvnet.png",
                  f"deconvnet: the strongest activation of {layer}, channels "
                  f"{', '.join(str(int(c)) for c in strongest)}, projected to pixels", nrow=4)
    except ValueError as e:
        log(f"no deconvnet projection: {str(e).splitlines()[0]}")

    smap = V.saliency(model, x, cls)[0]
    cam = V.grad_cam(model, x, layer, cls)[0]
    for filename, picture, title in (("saliency.png", smap, "saliency |d score / d pixel|"),
                                     ("gradcam.png", cam, f"Grad-CAM at {layer}")):
        fig, axes = plt.subplots(1, 2, figsize=(6, 3))
        axes[0].imshow(_show(x[0]), cmap="gray", interpolation="nearest")
        axes[0].set_title(f"input ({name(pred)} {probs[pred]:.0%})", fontsize=9)
        axes[1].imshow(_show(x[0]), cmap="gray", interpolation="nearest")
        axes[1].imshow(picture / max(picture.max(), 1e-12), cmap="jet", alpha=0.5,
                       vmin=0, vmax=1, interpolation="bilinear")
        axes[1].set_title(f"{title}, class {name(cls)}", fontsize=9)
        for a in axes:
            a.axis("off")
        save(fig, filename)
    return paths


def _default_layer(model, x, layers):
    """The last of `layers` (maps larger than 1 x 1) that the deconvnet can walk back from,
    else (a ResNet, whose blocks are not a plain stack) the last of `layers`."""
    if not layers:
        raise InsideError(f"{type(model).__name__} has no layer with feature maps larger "
                          f"than 1 x 1 for this input")
    projectable = set(V.projectable_layers(model, x))
    return next((n for n in reversed(layers) if n in projectable), layers[-1])


def cmd_inside(args) -> int:
    try:
        if args.top < 1:
            raise InsideError(f"--top must be at least 1, got {args.top}")
        model, data_name, names = load_model(args.model, args.data_root)
        if args.image.startswith("test:"):
            if data_name == "imagenet":
                raise InsideError("test:N needs a checkpoint trained here; for an ImageNet "
                                  "model give an image file")
            x, label = test_image(args.image, data_name, args.data_root)
            print(f"{args.image}: a {data_name} test image, label {names[label]}")
        else:
            x = prepare_image(args.image, data_name, args.invert)
        out = args.out or os.path.join("runs", "inside")
        if os.path.exists(out) and not os.path.isdir(out):
            raise InsideError(f"--out {out} is a file; give a folder for the pictures")
        paths = write_figures(model, x, out, names, args.layer, args.target, args.top)
    except (ValueError, FileNotFoundError, ImportError) as e:
        # InsideError, RecipeError and the visualisation's own ValueErrors: all one line
        print(f"error: {str(e).splitlines()[0]}")
        return 2
    print(f"wrote {len(paths)} figures to {out}: {', '.join(sorted(paths))}")
    return 0


def add_parser(sub):
    s = sub.add_parser("inside", help="look inside a trained CNN: filters, feature maps, "
                                      "deconvnet projections, saliency, Grad-CAM")
    s.add_argument("model", help="a checkpoint from `scratchnet train`, or a zoo model name "
                                 "with ImageNet weights in the cache (alexnet, vgg16, ...)")
    s.add_argument("image", help="an image file (PNG/JPEG), or test:N for the N-th image of "
                                 "the checkpoint's test set")
    s.add_argument("--out", help="folder for the figures (default: runs/inside)")
    s.add_argument("--layer", help="layer for the deconvnet and Grad-CAM (default: the last "
                                   "one with maps larger than 1 x 1)")
    s.add_argument("--target", type=int, help="class to explain (default: the prediction)")
    s.add_argument("--top", type=int, default=8,
                   help="how many of the layer's strongest channels to project (default 8)")
    s.add_argument("--invert", action="store_true",
                   help="invert the image (dark digit on white paper -> white on black)")
    s.add_argument("--data-root", help="folder holding MNIST / CIFAR-10 files, for test:N")
    s.set_defaults(fn=cmd_inside)
