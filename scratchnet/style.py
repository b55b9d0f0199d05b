"""Neural style transfer (Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional
Neural Networks", CVPR 2016), written as "CNN 응용 사례" (deck 000) writes it:

    G^l_ij = sum_k F^l_ik F^l_jk                      Gram matrix of layer l, F^l is N_l x M_l
                                                      (N_l channels, M_l = H_l * W_l positions)
    E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G^l_ij - A^l_ij)^2        A^l: the style image's Gram
    L_style = sum_l w_l E_l                           over conv1_1, conv2_1, ..., conv5_1
    L_content = 1/2 sum_ij (F^l_ij - P^l_ij)^2        at conv4_2, P: the content image's map
    loss = alpha * L_style + beta * L_content         (the deck's letters: alpha weighs style)

The deck adds that replacing 1/2 by 1/(4 * P.size) (P.size: the number of entries of P) is
known to converge faster: `content_loss(..., factor="size")`. Gatys et al. name the weights the
other way round (alpha for content, beta for style); only the ratio matters.

The image itself is the parameter: features of the content and style images are computed once,
then the pixels of the generated image x are updated by backprop, with L-BFGS (as Gatys et al.)
or Adam. Input to the network is ImageNet-normalised ((x - mean) / std per RGB channel), the
statistics torchvision's VGG-19 weights were trained with.

Features come from torchvision's VGG-19 (`features` indices, see VGG19_LAYERS), with ImageNet
weights when `scratchnet.models.vgg19(weights="IMAGENET1K_V1")` finds its file, and otherwise,
said in one line, from a VGG-19 with random weights: He, Wang and Hopcroft, "A Powerful
Generative Model Using Random Weights for the Deep Image Representation" (NeurIPS 2016), showed
that untrained VGG features still carry texture and content, though the results look different.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import nn, optim
from .autograd.grad_mode import no_grad
from .autograd.tensor import Tensor
from .creation import tensor
from .nn import init

# name -> index in torchvision's vgg19().features of that convolution; its ReLU is index + 1.
# Block b's k-th convolution is convb_k; a max pool ends each block (indices 4, 9, 18, 27, 36).
VGG19_LAYERS = {
    "conv1_1": 0, "conv1_2": 2,
    "conv2_1": 5, "conv2_2": 7,
    "conv3_1": 10, "conv3_2": 12, "conv3_3": 14, "conv3_4": 16,
    "conv4_1": 19, "conv4_2": 21, "conv4_3": 23, "conv4_4": 25,
    "conv5_1": 28, "conv5_2": 30, "conv5_3": 32, "conv5_4": 34,
}
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYER = "conv4_2"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_NOTE = ("VGG-19 with random weights (He, Wang & Hopcroft, NeurIPS 2016: untrained VGG "
               "features still carry style and content)")

# scikit-image's bundled pictures (no download): photos for content, textures for style
PHOTOS = ("astronaut", "camera", "cat", "chelsea", "coffee", "rocket")
TEXTURES = ("brick", "grass", "gravel", "immunohistochemistry", "hubble_deep_field")


class StyleError(ValueError):
    """Bad input to style transfer, said in one line."""


def gram_matrix(features):
    """G = F F^T with F the feature map flattened to N_l x M_l (channels x positions), no
    normalisation (the deck's G^l_ij = sum_k F^l_ik F^l_jk).

    (N, C, H, W) -> (N, C, C); (C, H, W) -> (C, C)."""
    f = features if isinstance(features, Tensor) else tensor(features)
    if f.ndim not in (3, 4):
        raise StyleError(f"gram_matrix: expected a feature map (C, H, W) or (N, C, H, W), got "
                         f"shape {tuple(f.shape)}")
    c, h, w = f.shape[-3:]
    flat = f.reshape(*f.shape[:-3], c, h * w)
    return flat @ flat.transpose(-1, -2)


def style_loss(features, target_gram):
    """E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2, G the Gram matrix of `features`.

    features: (N, C, H, W) or (C, H, W), N_l = C channels and M_l = H * W positions;
    target_gram: A, (N, C, C) or (C, C) (or (C, C) for every image of a batch).
    Returns a scalar (summed over a batch)."""
    G = gram_matrix(features)
    c, h, w = features.shape[-3:]
    A = target_gram if isinstance(target_gram, Tensor) else tensor(target_gram)
    if tuple(A.shape[-2:]) != (c, c):
        raise StyleError(f"style_loss: the feature map has {c} channels, so its Gram matrix "
                         f"is {c}x{c}, but the target Gram matrix has shape {tuple(A.shape)}")
    n_l, m_l = c, h * w
    return ((G - A) ** 2).sum() * (1.0 / (4.0 * n_l ** 2 * m_l ** 2))


def content_loss(features, target, factor: str = "half"):
    """L_content = c * sum_ij (F_ij - P_ij)^2 with c = 1/2 (factor="half", the deck's and
    Gatys et al.'s formula) or c = 1 / (4 * P.size) (factor="size", the variant the deck
    says converges faster; P.size is the number of entries of P).

    features F and target P: the same shape, any. Returns a scalar."""
    F_ = features
    P = target if isinstance(target, Tensor) else tensor(target)
    if tuple(F_.shape) != tuple(P.shape):
        raise StyleError(f"content_loss: features of shape {tuple(F_.shape)} against a target "
                         f"of shape {tuple(P.shape)}; they must match")
    if factor == "half":
        c = 0.5
    elif factor == "size":
        c = 1.0 / (4.0 * P.numel())
    else:
        raise StyleError(f"content_loss: factor must be 'half' (1/2) or 'size' "
                         f"(1/(4 * P.size)), got {factor!r}")
    return ((F_ - P) ** 2).sum() * c


def layer_index(name: str, after_relu: bool = True) -> int:
    """Index in vgg19().features of layer `name` ('conv4_2'), or of the ReLU after it."""
    if name not in VGG19_LAYERS:
        raise StyleError(f"unknown VGG-19 layer {name!r}; the layers are "
                         f"{', '.join(VGG19_LAYERS)}")
    return VGG19_LAYERS[name] + (1 if after_relu else 0)


class VGGFeatures(nn.Module):
    """The feature maps of named VGG-19 layers for an RGB image in [0, 1].

    (N, 3, H, W) -> {name: (N, C_l, H_l, W_l)}. The image is ImageNet-normalised first; the
    network is cut after the deepest layer asked for (conv5_1 needs 30 of the 37 modules, and
    none of the classifier). By default a layer's map is taken after its ReLU, as in Gatys et
    al.'s Caffe model where the ReLU overwrites the convolution's output.
    """

    def __init__(self, features: nn.Sequential, layers, after_relu: bool = True):
        super().__init__()
        self.layers = {name: layer_index(name, after_relu) for name in layers}
        last = max(self.layers.values())
        self.body = nn.Sequential(*[features[i] for i in range(last + 1)])
        self.register_buffer("mean", tensor(np.array(IMAGENET_MEAN, np.float32)
                                            .reshape(1, 3, 1, 1)), persistent=False)
        self.register_buffer("std", tensor(np.array(IMAGENET_STD, np.float32)
                                           .reshape(1, 3, 1, 1)), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise StyleError(f"VGGFeatures: expected an RGB batch (N, 3, H, W), got shape "
                             f"{tuple(x.shape)}")
        if min(x.shape[-2:]) < 16:
            raise StyleError(f"VGGFeatures: a {x.shape[-2]}x{x.shape[-1]} image is too small: "
                             f"four 2x2 pools take it to conv5_1, which needs at least 16x16")
        wanted = {i: name for name, i in self.layers.items()}
        out = {}
        h = (x - self.mean) / self.std
        for i, module in enumerate(self.body):
            h = module(h)
            if i in wanted:
                out[wanted[i]] = h
        return out


def random_vgg19_features() -> nn.Sequential:
    """torchvision's vgg19().features with torchvision's initialisation (He-normal, fan_out,
    zero bias), without building the 120M-parameter classifier."""
    from .models.vgg import CONFIGS, make_layers
    features = make_layers(CONFIGS["E"])
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(m.bias)
    return features


def vgg19_features(pretrained: bool = True, log=print):
    """(features Sequential, True when ImageNet weights were loaded). Tries
    `models.vgg19(weights="IMAGENET1K_V1")` when `pretrained`; when the weight file is not
    there (FileNotFoundError) says so in one line and falls back to random weights."""
    from .models import vgg19
    if pretrained:
        try:
            model = vgg19(weights="IMAGENET1K_V1")
        except FileNotFoundError as e:
            log(f"features: {RANDOM_NOTE}; ImageNet weights not found ({e})")
        else:
            log("features: VGG-19 with ImageNet weights (IMAGENET1K_V1)")
            return model.features, True
    else:
        log(f"features: {RANDOM_NOTE}")
    return random_vgg19_features(), False


class StyleTransfer:
    """The deck's objective for one content and one style image, features computed once.

    content, style: (1, 3, H, W) float32 arrays or Tensors in [0, 1] (the style image should
    have the content's size: E_l compares Gram matrices, which grow with M_l).
    alpha weighs the style loss and beta the content loss (the deck's letters);
    layer_weights: w_l per style layer (default 1/5 each, Gatys et al.).

    `loss(x)` -> (total, style, content) scalars for the image x (1, 3, H, W).
    """

    def __init__(self, extractor: VGGFeatures, content, style, alpha=1e7, beta=1.0,
                 style_layers=STYLE_LAYERS, content_layer=CONTENT_LAYER, layer_weights=None,
                 content_factor="half"):
        self.extractor = extractor
        self.alpha, self.beta = float(alpha), float(beta)
        self.style_layers, self.content_layer = tuple(style_layers), content_layer
        if layer_weights is None:
            layer_weights = {name: 1.0 / len(self.style_layers) for name in self.style_layers}
        missing = set(self.style_layers) - set(layer_weights)
        if missing:
            raise StyleError(f"layer_weights has no weight for {sorted(missing)}")
        self.layer_weights = dict(layer_weights)
        self.content_factor = content_factor
        with no_grad():
            self.style_targets = {k: gram_matrix(v).detach()
                                  for k, v in extractor(_as_image(style, "style")).items()
                                  if k in self.style_layers}
            self.content_target = extractor(_as_image(content, "content"))[content_layer]\
                .detach()

    def loss(self, x):
        feats = self.extractor(x)
        s = None
        for name in self.style_layers:
            term = style_loss(feats[name], self.style_targets[name]) * self.layer_weights[name]
            s = term if s is None else s + term
        c = content_loss(feats[self.content_layer], self.content_target, self.content_factor)
        return s * self.alpha + c * self.beta, s, c


def _as_image(a, what):
    t = a if isinstance(a, Tensor) else tensor(np.asarray(a, dtype=np.float32))
    if t.ndim != 4 or t.shape[:2] != (1, 3):
        raise StyleError(f"{what} image: expected (1, 3, H, W), got {tuple(t.shape)}")
    return t


def synthesize(objective: StyleTransfer, init, steps: int, optimizer: str = "lbfgs",
               lr=None, callback=None):
    """Optimise the pixels of `init` ((1, 3, H, W) array in [0, 1]) for `steps` iterations.

    lbfgs: one L-BFGS iteration per step with a strong Wolfe line search (lr 1 by default),
    usually 1 to 3 loss evaluations. Without the line search the fixed quasi-Newton step
    overshoots when alpha is large (on a 40-pixel image at alpha = 1e7 one step raised the loss
    a million-fold and the run never recovered), so the line search is worth its extra
    evaluations here.
    adam: one evaluation per step, lr 0.02 by default (in [0, 1] pixel units).

    `callback(step, total, style, content, image)` runs after every step with the losses of
    the image the step started from (Python floats) and the updated (1, 3, H, W) array.
    Returns (image array, [(total, style, content, loss evaluations so far) per step])."""
    x = tensor(np.array(init, dtype=np.float32), requires_grad=True)
    if optimizer == "lbfgs":
        opt = optim.LBFGS([x], lr=1.0 if lr is None else lr, max_iter=1, history_size=50,
                          line_search_fn="strong_wolfe")
    elif optimizer == "adam":
        opt = optim.Adam([x], lr=0.02 if lr is None else lr)
    else:
        raise StyleError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    history = []
    evaluations = []

    def closure():
        opt.zero_grad()
        total, s, c = objective.loss(x)
        total.backward()
        evaluations.append((total.item(), s.item(), c.item()))
        return total

    for step in range(1, steps + 1):
        first = len(evaluations)
        if optimizer == "lbfgs":
            opt.step(closure)
        else:
            closure()
            opt.step()
        total, s, c = evaluations[first]
        history.append((total, s, c, len(evaluations)))
        if callback is not None:
            callback(step, total, s, c, x.data)
        if not np.isfinite(total):
            raise StyleError(f"the loss became {total} at step {step}; try a smaller "
                             f"--alpha/--beta or Adam")
    return x.data.copy(), history


def load_image(source: str) -> np.ndarray:
    """An image file path, or the name of one of scikit-image's bundled pictures
    (PHOTOS + TEXTURES), as (H, W, 3) float32 in [0, 1]; grey pictures are repeated over
    the three channels."""
    if os.path.isfile(source):
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(source) as im:
                a = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise StyleError(f"{source}: not an image file Pillow can read ({e})") from None
    elif source in PHOTOS + TEXTURES:
        try:
            from skimage import data
        except ImportError:
            raise StyleError(f"{source!r} is one of scikit-image's pictures, but scikit-image "
                             f"is not installed (pip install scratchnet[datasets]); pass an "
                             f"image file instead") from None
        a = getattr(data, source)()
    else:
        raise StyleError(f"{source!r} is neither an image file nor one of scikit-image's "
                         f"pictures: {', '.join(PHOTOS + TEXTURES)}")
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    a = a[..., :3]
    scale = 255.0 if a.dtype.kind in "ui" else 1.0
    return (a.astype(np.float32) / scale).clip(0, 1)


def prepare(image: np.ndarray, size) -> np.ndarray:
    """(H, W, 3) in [0, 1] -> (1, 3, H', W') float32, resized (MATLAB-style bicubic with
    antialiasing) to `size` = (H', W'), or with its longer side = size for an int."""
    from .data.transforms import imresize
    h, w = image.shape[:2]
    if isinstance(size, int):
        s = size / max(h, w)
        size = (max(16, round(h * s)), max(16, round(w * s)))
    chw = np.moveaxis(image, -1, 0).astype(np.float64)
    out = imresize(chw, size=size).clip(0, 1)
    return out[None].astype(np.float32)


def to_hwc(x) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) in [0, 1] for display (values outside are clipped)."""
    return np.moveaxis(np.asarray(x)[0], 0, -1).clip(0, 1)


def save_png(path: str, x) -> None:
    import matplotlib.image as mpimg
    mpimg.imsave(path, to_hwc(x))


def run(content: str, style: str, out: str, steps: int, optimizer: str = "lbfgs",
        size: int = 256, alpha=1e7, beta=1.0, frames=None, init="content", pretrained=True,
        compare=False, seed=0, log=print):
    """What `scratchnet style` does: load, extract, optimise, write OUT (and frames).
    With `compare` and ImageNet weights present, runs again on random weights and writes
    OUT with '-compare' before the extension: content | pretrained | random | style."""
    if steps < 1:
        raise StyleError(f"--steps must be at least 1, got {steps}")
    if size < 16:
        raise StyleError(f"--size must be at least 16 (conv5_1 sits after four 2x2 pools), "
                         f"got {size}")
    if init not in ("content", "noise"):
        raise StyleError(f"--init must be content or noise, got {init!r}")
    if not (alpha >= 0 and beta >= 0) or alpha == beta == 0:
        raise StyleError(f"--alpha and --beta weigh the two losses: both >= 0 and not both 0, "
                         f"got alpha={alpha}, beta={beta}")
    # everything that can fail at the end is checked before minutes of optimisation
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise StyleError(f"cannot write {out}: folder {out_dir} does not exist")
    if os.path.isdir(out):
        raise StyleError(f"cannot write {out}: it is a folder; give a file name like out.png")
    if os.path.splitext(out)[1].lower() not in (".png", ".jpg", ".jpeg"):
        raise StyleError(f"cannot write {out}: the output must end in .png, .jpg or .jpeg")
    if not os.access(out_dir, os.W_OK):
        raise StyleError(f"cannot write {out}: folder {out_dir} is not writable")
    if frames and os.path.exists(frames) and not os.path.isdir(frames):
        raise StyleError(f"--frames {frames} is a file, not a folder")
    c_img = prepare(load_image(content), size)
    s_img = prepare(load_image(style), c_img.shape[-2:])
    features, is_pretrained = vgg19_features(pretrained, log=log)
    variants = [("pretrained" if is_pretrained else "random", features)]
    if compare:
        if is_pretrained:
            log(f"compare: also running a {RANDOM_NOTE}")
            variants.append(("random", random_vgg19_features()))
        else:
            log("compare: nothing to compare with, the ImageNet weights are not there")
    results = []
    for kind, feats in variants:
        extractor = VGGFeatures(feats, set(STYLE_LAYERS) | {CONTENT_LAYER})
        objective = StyleTransfer(extractor, c_img, s_img, alpha=alpha, beta=beta)
        rng = np.random.default_rng(seed)
        x0 = c_img if init == "content" else rng.uniform(0, 1, c_img.shape).astype(np.float32)
        every = max(1, steps // 10)
        frame_dir = None
        if frames:
            frame_dir = frames if len(variants) == 1 else os.path.join(frames, kind)
            os.makedirs(frame_dir, exist_ok=True)
            save_png(os.path.join(frame_dir, "step_0000.png"), x0)
        start = time.perf_counter()

        def progress(step, total, s, c, image, kind=kind, frame_dir=frame_dir, start=start):
            if step % every == 0 or step == steps:
                log(f"[{kind}] step {step}/{steps}  loss {total:.4g}  style {s:.4g}  "
                    f"content {c:.4g}  {time.perf_counter() - start:.1f} s")
            if frame_dir and (step % every == 0 or step == steps):
                save_png(os.path.join(frame_dir, f"step_{step:04d}.png"), image)

        image, history = synthesize(objective, x0, steps, optimizer, callback=progress)
        results.append((kind, image, history))
    save_png(out, results[0][1])
    log(f"wrote {out} ({c_img.shape[-1]}x{c_img.shape[-2]}, {results[0][0]} features)")
    if len(results) == 2:
        root, ext = os.path.splitext(out)
        path = f"{root}-compare{ext or '.png'}"
        strip = np.concatenate([c_img] + [r[1] for r in results] + [s_img], axis=-1)
        save_png(path, strip)
        log(f"wrote {path}: content | pretrained | random | style")
    return results


def add_parser(sub):
    s = sub.add_parser("style", help="neural style transfer (Gatys et al.) with VGG-19 "
                                     "features")
    s.add_argument("content", help="image file, or a scikit-image picture: "
                                   + ", ".join(PHOTOS))
    s.add_argument("style", help="image file, or a scikit-image picture: "
                                 + ", ".join(TEXTURES + PHOTOS))
    s.add_argument("out", help="the PNG to write")
    s.add_argument("--steps", type=int, default=100, help="optimisation steps (default 100)")
    s.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    s.add_argument("--size", type=int, default=256,
                   help="longer side of the image in pixels (default 256)")
    s.add_argument("--alpha", type=float, default=1e7,
                   help="weight of the style loss (the deck's alpha; default 1e7)")
    s.add_argument("--beta", type=float, default=1.0,
                   help="weight of the content loss (the deck's beta; default 1)")
    s.add_argument("--frames", help="folder for intermediate images (10 over the run)")
    s.add_argument("--init", choices=["content", "noise"], default="content",
                   help="start from the content image (default) or from noise as the deck")
    s.add_argument("--random-weights", action="store_true",
                   help="use a randomly initialised VGG-19 even if ImageNet weights exist")
    s.add_argument("--compare", action="store_true",
                   help="with ImageNet weights present, also run random weights and write "
                        "OUT-compare.png side by side")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_style)
    return s


def cmd_style(args) -> int:
    from .random import manual_seed
    manual_seed(args.seed)
    try:
        run(args.content, args.style, args.out, args.steps, args.optimizer, args.size,
            args.alpha, args.beta, args.frames, args.init, not args.random_weights,
            args.compare, args.seed)
    except (StyleError, OSError) as e:
        print(f"error: {e}")
        return 2
    return 0
