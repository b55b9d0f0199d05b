"""Pretrained ImageNet weights: torchvision's published files, found in a cache, loaded
without torch.

    model = scratchnet.models.vgg19(weights="IMAGENET1K_V1")     # or weights="DEFAULT"
    model = scratchnet.models.resnet50(weights=ResNet50_Weights.IMAGENET1K_V2)

The zoo names its layers as torchvision does, so torchvision's own weight files load unchanged.
The registry below lists them by torchvision's names (`VGG19_Weights.IMAGENET1K_V1`, with
`DEFAULT` the one torchvision recommends), with the file name torchvision publishes at
https://download.pytorch.org/models/. The hex digits at the end of each file name are the
start of the file's SHA-256, which a download is checked against (as torch.hub does).

A weights file is looked for, in this order, in

    $SCRATCHNET_HOME/weights   (default ~/.cache/scratchnet/weights), where
                               `scratchnet weights download NAME` saves it
    $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints), where torchvision
                               saves the same files

as the .pth file or as a .safetensors file of the same stem. A .pth is read by
scratchnet.pth, which runs none of the file's pickle. Unlike torchvision, a constructor does
not download by itself (a course machine is often offline, and a silent 500 MB download in the
middle of a lesson is no better than a hang): without the file it raises WeightsNotFoundError,
a FileNotFoundError whose one-line message names the file, where it was looked for and the
command that fetches it. `download=True` fetches it instead.
"""
from __future__ import annotations

import functools
import inspect
import os
import re
import urllib.error
from dataclasses import dataclass, field

BASE_URL = "https://download.pytorch.org/models/"


class WeightsNotFoundError(FileNotFoundError):
    """A pretrained weights file is not in any cache directory."""


@dataclass(frozen=True)
class Weights:
    """One published set of weights for one architecture (torchvision's `Weights`).

    arch:        the zoo constructor it belongs to ("vgg19")
    name:        torchvision's enum member name ("IMAGENET1K_V1")
    url:         where torchvision publishes the .pth file
    num_params:  parameters of the model it fits (torchvision's meta["num_params"])
    acc1:        ImageNet-1K top-1 accuracy (%), torchvision's meta (single 224 crop)
    build:       constructor options the weights need (e.g. GoogLeNet's transform_input)
    """

    arch: str
    name: str
    url: str
    num_params: int
    acc1: float
    build: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def sha256_prefix(self) -> str:
        """The hex digits after the last '-' of the file name: the start of its SHA-256."""
        match = re.search(r"-([0-9a-f]+)\.", self.filename)
        if match is None:
            raise ValueError(f"{self.filename} carries no SHA-256 prefix")
        return match.group(1)

    @property
    def enum_name(self) -> str:
        return f"{ENUM_NAMES[self.arch]}.{self.name}"

    @property
    def approx_megabytes(self) -> float:
        """File size from the parameter count (float32), a little under the real file."""
        return self.num_params * 4 / 1e6

    def __str__(self):
        return self.enum_name


# torchvision's enum class name per zoo constructor
ENUM_NAMES = {
    "alexnet": "AlexNet_Weights",
    "vgg11": "VGG11_Weights", "vgg11_bn": "VGG11_BN_Weights",
    "vgg13": "VGG13_Weights", "vgg13_bn": "VGG13_BN_Weights",
    "vgg16": "VGG16_Weights", "vgg16_bn": "VGG16_BN_Weights",
    "vgg19": "VGG19_Weights", "vgg19_bn": "VGG19_BN_Weights",
    "resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights", "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights", "resnext50_32x4d": "ResNeXt50_32X4D_Weights",
    "densenet121": "DenseNet121_Weights", "densenet169": "DenseNet169_Weights",
    "googlenet": "GoogLeNet_Weights",
    "squeezenet1_0": "SqueezeNet1_0_Weights", "squeezenet1_1": "SqueezeNet1_1_Weights",
    "shufflenet_v2_x1_0": "ShuffleNet_V2_X1_0_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
}

# (arch, member, file at BASE_URL, num_params, ImageNet top-1 %), as torchvision's model
# modules publish them. VGG-16's IMAGENET1K_FEATURES (NaN classifier) and the zoo models
# torchvision has no weights for (alexnet_paper, zfnet, mobilenet_v1, se_resnet50, lenet5,
# convnetjs_cifar10) are not listed.
_TABLE = [
    ("alexnet", "IMAGENET1K_V1", "alexnet-owt-7be5be79.pth", 61_100_840, 56.522),
    ("vgg11", "IMAGENET1K_V1", "vgg11-8a719046.pth", 132_863_336, 69.020),
    ("vgg11_bn", "IMAGENET1K_V1", "vgg11_bn-6002323d.pth", 132_868_840, 70.370),
    ("vgg13", "IMAGENET1K_V1", "vgg13-19584684.pth", 133_047_848, 69.928),
    ("vgg13_bn", "IMAGENET1K_V1", "vgg13_bn-abd245e5.pth", 133_053_736, 71.586),
    ("vgg16", "IMAGENET1K_V1", "vgg16-397923af.pth", 138_357_544, 71.592),
    ("vgg16_bn", "IMAGENET1K_V1", "vgg16_bn-6c64b313.pth", 138_365_992, 73.360),
    ("vgg19", "IMAGENET1K_V1", "vgg19-dcbb9e9d.pth", 143_667_240, 72.376),
    ("vgg19_bn", "IMAGENET1K_V1", "vgg19_bn-c79401a0.pth", 143_678_248, 74.218),
    ("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 11_689_512, 69.758),
    ("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", 21_797_672, 73.314),
    ("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 25_557_032, 76.130),
    ("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 25_557_032, 80.858),
    ("resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth", 44_549_160, 77.374),
    ("resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth", 44_549_160, 81.886),
    ("resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth", 60_192_808, 78.312),
    ("resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth", 60_192_808, 82.284),
    ("resnext50_32x4d", "IMAGENET1K_V1", "resnext50_32x4d-7cdf4587.pth", 25_028_904, 77.618),
    ("resnext50_32x4d", "IMAGENET1K_V2", "resnext50_32x4d-1a0047aa.pth", 25_028_904, 81.198),
    ("densenet121", "IMAGENET1K_V1", "densenet121-a639ec97.pth", 7_978_856, 74.434),
    ("densenet169", "IMAGENET1K_V1", "densenet169-b2777c0a.pth", 14_149_480, 75.600),
    ("googlenet", "IMAGENET1K_V1", "googlenet-1378be20.pth", 6_624_904, 69.778),
    ("squeezenet1_0", "IMAGENET1K_V1", "squeezenet1_0-b66bff10.pth", 1_248_424, 58.092),
    ("squeezenet1_1", "IMAGENET1K_V1", "squeezenet1_1-b8a52dc0.pth", 1_235_496, 58.178),
    ("shufflenet_v2_x1_0", "IMAGENET1K_V1", "shufflenetv2_x1-5666bf0f80.pth", 2_278_604,
     69.362),
    ("mobilenet_v2", "IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 3_504_872, 71.878),
    ("mobilenet_v2", "IMAGENET1K_V2", "mobilenet_v2-7ebf99e0.pth", 3_504_872, 72.154),
]

# torchvision's DEFAULT where it is not IMAGENET1K_V1: the newer training recipe
_DEFAULT_V2 = {"resnet50", "resnet101", "resnet152", "resnext50_32x4d", "mobilenet_v2"}

# constructor options with pretrained weights, as torchvision sets them: no random
# initialisation where the file overwrites every value anyway (it takes seconds for VGG), and
# GoogLeNet's weights, ported from TensorFlow, expect inputs scaled to [-1, 1]; its file also
# holds the two auxiliary classifiers, which are dropped after loading unless asked for
_BUILD = {**{f"vgg{depth}{bn}": {"init_weights": False}
             for depth in (11, 13, 16, 19) for bn in ("", "_bn")},
          "googlenet": {"transform_input": True, "init_weights": False}}


def _registry():
    table = {}
    for arch, member, filename, num_params, acc1 in _TABLE:
        table.setdefault(arch, {})[member] = Weights(arch, member, BASE_URL + filename,
                                                     num_params, acc1, _BUILD.get(arch, {}))
    for arch, members in table.items():
        members["DEFAULT"] = members["IMAGENET1K_V2" if arch in _DEFAULT_V2 else "IMAGENET1K_V1"]
    return table


REGISTRY = _registry()


class WeightsEnum:
    """torchvision-style namespace of an architecture's weights: `VGG19_Weights.DEFAULT`,
    `VGG19_Weights.IMAGENET1K_V1`; iterating gives the distinct members."""

    def __init_subclass__(cls, arch=None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.arch = arch
        for member, weights in REGISTRY[arch].items():
            setattr(cls, member, weights)

    @classmethod
    def members(cls):
        return [w for k, w in REGISTRY[cls.arch].items() if k != "DEFAULT"]


def _make_enum(arch):
    return type(ENUM_NAMES[arch], (WeightsEnum,), {"__module__": __name__}, arch=arch)


AlexNet_Weights = _make_enum("alexnet")
VGG11_Weights, VGG11_BN_Weights = _make_enum("vgg11"), _make_enum("vgg11_bn")
VGG13_Weights, VGG13_BN_Weights = _make_enum("vgg13"), _make_enum("vgg13_bn")
VGG16_Weights, VGG16_BN_Weights = _make_enum("vgg16"), _make_enum("vgg16_bn")
VGG19_Weights, VGG19_BN_Weights = _make_enum("vgg19"), _make_enum("vgg19_bn")
ResNet18_Weights, ResNet34_Weights = _make_enum("resnet18"), _make_enum("resnet34")
ResNet50_Weights, ResNet101_Weights = _make_enum("resnet50"), _make_enum("resnet101")
ResNet152_Weights = _make_enum("resnet152")
ResNeXt50_32X4D_Weights = _make_enum("resnext50_32x4d")
DenseNet121_Weights, DenseNet169_Weights = _make_enum("densenet121"), _make_enum("densenet169")
GoogLeNet_Weights = _make_enum("googlenet")
SqueezeNet1_0_Weights = _make_enum("squeezenet1_0")
SqueezeNet1_1_Weights = _make_enum("squeezenet1_1")
ShuffleNet_V2_X1_0_Weights = _make_enum("shufflenet_v2_x1_0")
MobileNet_V2_Weights = _make_enum("mobilenet_v2")


def list_weights():
    """Every registered Weights (DEFAULT aliases left out), in the registry's order."""
    return [w for members in REGISTRY.values() for k, w in members.items() if k != "DEFAULT"]


def get_weight(name, arch=None) -> Weights:
    """The Weights a name stands for. Accepted: a Weights, "DEFAULT" or "IMAGENET1K_V1" (with
    `arch`), "VGG19_Weights.IMAGENET1K_V1", "vgg19" (its DEFAULT), "vgg19.IMAGENET1K_V1", or
    a file name such as "vgg19-dcbb9e9d.pth"."""
    if isinstance(name, Weights):
        if arch is not None and name.arch != arch:
            raise ValueError(f"{arch}: weights {name} belong to {name.arch}, not {arch}")
        return name
    if isinstance(name, type) and issubclass(name, WeightsEnum):
        raise TypeError(f"pass a member such as {name.__name__}.DEFAULT, not the class "
                        f"{name.__name__} itself")
    if isinstance(name, bool):
        raise TypeError(f"weights={name!r}: torchvision's old pretrained=True is spelled "
                        f"weights=\"DEFAULT\" now")
    if not isinstance(name, str):
        raise TypeError(f"weights must be a name (str) or a Weights, got {type(name).__name__}")
    by_enum = {v: k for k, v in ENUM_NAMES.items()}
    head, _, member = name.partition(".")
    if member and head in by_enum:
        head = by_enum[head]
    if member and head in REGISTRY and member in REGISTRY[head]:
        found = REGISTRY[head][member]
    elif not member and arch is not None and name in REGISTRY.get(arch, {}):
        found = REGISTRY[arch][name]
    elif not member and name in REGISTRY:
        found = REGISTRY[name]["DEFAULT"]
    else:
        found = next((w for w in list_weights() if w.filename == name), None)
    if found is None:
        where = arch or (head if head in REGISTRY else None)
        known = ", ".join(REGISTRY[where]) if where in REGISTRY else \
            "`scratchnet weights list` shows them"
        raise ValueError(f"unknown weights {name!r}" + (f" for {where}" if where else "")
                         + f"; known: {known}")
    if arch is not None and found.arch != arch:
        raise ValueError(f"{arch}: weights {found} belong to {found.arch}, not {arch}")
    return found


def weights_dir() -> str:
    """Where `scratchnet weights download` saves files: $SCRATCHNET_HOME/weights, default
    ~/.cache/scratchnet/weights."""
    home = os.environ.get("SCRATCHNET_HOME") or os.path.join("~", ".cache", "scratchnet")
    return os.path.abspath(os.path.expanduser(os.path.join(home, "weights")))


def torch_hub_dir() -> str:
    """torch.hub's checkpoint folder ($TORCH_HOME/hub/checkpoints, default
    ~/.cache/torch/hub/checkpoints), where torchvision keeps the same files."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch")
    return os.path.abspath(os.path.expanduser(os.path.join(home, "hub", "checkpoints")))


def search_dirs() -> list:
    return [weights_dir(), torch_hub_dir()]


def find_weights_file(weights) -> str | None:
    """The path of the weights' file (.pth, or .safetensors of the same stem) in the first
    search directory that has it; None when none does."""
    w = get_weight(weights)
    stem = w.filename[:-len(".pth")]
    for folder in search_dirs():
        for name in (w.filename, stem + ".safetensors"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def _missing_message(w) -> str:
    dirs = " or ".join(search_dirs())
    return (f"{w.arch} weights {w}: {w.filename} is not in {dirs}; run `scratchnet weights "
            f"download {w.arch}.{w.name}` ({w.url}, about {w.approx_megabytes:.0f} MB) or "
            f"save that file there yourself")


def weights_path(weights) -> str:
    """The path of the weights' file; WeightsNotFoundError (one line: which file, where it
    was looked for, how to get it) when it is in no search directory."""
    w = get_weight(weights)
    path = find_weights_file(w)
    if path is None:
        raise WeightsNotFoundError(_missing_message(w))
    return path


def download_weights(weights, force: bool = False) -> str:
    """Fetch the weights' file into weights_dir() unless a copy with the published SHA-256
    prefix is already there; returns its path. The bytes are checked before the file appears
    under its name (IntegrityError otherwise, and nothing is left behind)."""
    from ..data.datasets import _download

    w = get_weight(weights)
    path = os.path.join(weights_dir(), w.filename)
    if os.path.isfile(path) and not force:
        if _download.file_digest(path, "sha256").startswith(w.sha256_prefix):
            return path
        print(f"{w.filename}: the copy in {weights_dir()} does not match its published "
              f"SHA-256 prefix {w.sha256_prefix}; downloading it again")
    print(f"downloading {w.url} (about {w.approx_megabytes:.0f} MB) to {path}")
    try:
        _download.download_file(w.url, path, sha256_prefix=w.sha256_prefix,
                                who=f"weights {w}")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        # the network failed; a full disk or a read-only folder is reported as it is
        raise ConnectionError(f"weights {w}: could not download {w.url} ({e}); save the file "
                              f"as {path} by hand") from e
    return path


def _densenet_keys(state):
    """torchvision's DenseNet files predate the ban on '.' in module names: their dense
    layers say 'norm.1' where the modules (torchvision's and ours) say 'norm1'. Renamed as
    torchvision renames them on loading."""
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|"
                         r"running_mean|running_var))$")
    out = {}
    for key, value in state.items():
        m = pattern.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def load_pretrained_state(model, weights) -> None:
    """Copy the weights' file into `model` (strictly: every key must match). BatchNorm
    layers of files saved before PyTorch 0.4.1 have no num_batches_tracked; as torch does,
    those counters start at 0."""
    import numpy as np

    from .weights import load_state_file

    w = get_weight(weights)
    state = load_state_file(weights_path(w))
    if w.arch.startswith("densenet"):
        state = _densenet_keys(state)
    own = model.state_dict()
    for key in own:
        if key.endswith("num_batches_tracked") and key not in state \
                and key[:-len("num_batches_tracked")] + "running_mean" in state:
            state[key] = np.zeros((), np.int64)
    model.load_state_dict(state)


def with_weights(arch):
    """Decorator for a zoo constructor: adds torchvision's `weights=None, progress=True`
    (progress is accepted for torchvision's sake; nothing is downloaded unless
    `download=True`). With weights, the model is built for ImageNet's 1000 classes
    (another num_classes is an error, as in torchvision: replace the head afterwards) and the
    file is loaded into it."""

    def wrap(build):
        @functools.wraps(build)
        def constructor(*args, weights=None, progress: bool = True, download: bool = False,
                        **kwargs):
            if weights is None:
                return build(*args, **kwargs)
            w = get_weight(weights, arch)
            num_classes = args[0] if args else kwargs.pop("num_classes", 1000)
            if num_classes != 1000:
                raise ValueError(f"{arch}: the {w} weights classify ImageNet's 1000 classes, "
                                 f"got num_classes={num_classes}; build with 1000 and replace "
                                 f"the last layer (scratchnet.transfer.replace_head)")
            if download and find_weights_file(w) is None:
                download_weights(w)
            weights_path(w)                  # fail before building a large model
            options = dict(w.build)
            options.update(kwargs)
            keep_aux = options.get("aux_logits", False)
            if arch == "googlenet":
                options["aux_logits"] = True               # the file holds aux1 and aux2
            model = build(1000, *args[1:], **options)
            load_pretrained_state(model, w)
            if arch == "googlenet" and not keep_aux:
                model.aux_logits, model.aux1, model.aux2 = False, None, None
            return model

        # inspect.signature shows the added keywords (it would follow __wrapped__ otherwise)
        sig = inspect.signature(build)
        plain = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        rest = [p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                 for name, default in (("weights", None), ("progress", True),
                                       ("download", False))]
        constructor.__signature__ = sig.replace(parameters=plain + added + rest)
        constructor.__doc__ = (build.__doc__ or "") + (
            "\n\n    weights: None (random initialisation) or pretrained ImageNet weights by "
            f"name,\n    e.g. \"DEFAULT\" or {ENUM_NAMES[arch]}.DEFAULT (see "
            "scratchnet.models.pretrained);\n    download=True fetches a missing file first.")
        return constructor

    return wrap



def _cmd_weights(args) -> int:
    import sys

    from ..data.datasets._download import IntegrityError

    if args.action == "list":
        names = {w: w.enum_name + (" (DEFAULT)" if REGISTRY[w.arch]["DEFAULT"] is w else "")
                 for w in list_weights()}
        width = max(map(len, names.values()))
        print(f"{'weights':<{width}} {'file':<32} {'params':>12} {'top-1':>6}  where")
        for w, name in names.items():
            path = find_weights_file(w)
            print(f"{name:<{width}} {w.filename:<32} {w.num_params:>12,} {w.acc1:>6.2f}  "
                  f"{path or '-'}")
        print(f"searched: {', '.join(search_dirs())}")
        return 0
    if not args.name:
        print(f"scratchnet weights {args.action}: which weights? e.g. vgg19, "
              f"resnet50.IMAGENET1K_V2 (`scratchnet weights list` shows them)", file=sys.stderr)
        return 2
    try:
        w = get_weight(args.name)
        if args.action == "path":
            print(weights_path(w))
        else:
            print(download_weights(w, force=args.force))
    except (ValueError, TypeError, WeightsNotFoundError, IntegrityError,
            ConnectionError) as e:
        print(f"scratchnet weights {args.action}: {e}", file=sys.stderr)
        return 1
    return 0


def add_parser(sub):
    """`scratchnet weights list|download NAME|path NAME`."""
    s = sub.add_parser("weights", help="pretrained ImageNet weights: list, download, locate")
    s.add_argument("action", choices=["list", "download", "path"])
    s.add_argument("name", nargs="?",
                   help="vgg19 (its DEFAULT), vgg19.IMAGENET1K_V1, VGG19_Weights.IMAGENET1K_V1 "
                        "or vgg19-dcbb9e9d.pth")
    s.add_argument("--force", action="store_true", help="download even if a good copy exists")
    s.set_defaults(fn=_cmd_weights)
    return s
