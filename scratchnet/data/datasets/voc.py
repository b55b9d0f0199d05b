"""Pascal VOC detection and segmentation, with torchvision's constructors and layout.

    det = VOCDetection(year="2007", image_set="trainval", download=True)
    image, target = det[0]      # image (H, W, 3) uint8; target: the XML as nested dicts
    seg = VOCSegmentation(year="2012", image_set="val", download=True)
    image, mask = seg[0]        # mask (H, W) uint8 class indices, 255 = void (object borders)

Files are read from <root>/VOCdevkit/VOC<year>/ (the layout of the official archives and of
torchvision): JPEGImages/<id>.jpg, Annotations/<id>.xml, SegmentationClass/<id>.png and the
lists ImageSets/Main/<image_set>.txt, ImageSets/Segmentation/<image_set>.txt. A download
fetches the year's archive into <root>, checks its MD5 and unpacks it.

Detection targets: torchvision gives the XML as nested dicts of strings
({"annotation": {"object": [{"name": "dog", "bndbox": {"xmin": "48", ...},
"difficult": "0"}, ...], ...}}); so does target_type="xml" (the default). target_type="boxes"
gives the detection target instead: boxes (K, 4) float32 xyxy, labels (K,) int64 (1 + index
in VOC_CLASSES, 0 being background), difficult (K,) bool. VOC's corners are 1-based pixel
numbers with xmax the last column inside the box, so in the datasets' pixel-edge coordinates
the box is [xmin - 1, ymin - 1, xmax, ymax] (width xmax - xmin + 1).

Segmentation masks are palette PNGs: each pixel stores an index into the palette, and the
index is the class (0 background, 1-20 the classes, 255 the "void" border drawn around
objects, which evaluation ignores); the palette colours are for display only, so the indices
are read as they are, never converted to RGB.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np

from ..dataset import Dataset, _check_index
from ._download import (IntegrityError, data_root, download_from_mirrors, extract_archive,
                        verify_file)

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")

# Archive names and MD5s as torchvision's voc.py (DATASET_YEAR_DICT) lists them.
ARCHIVES = {
    "2012": ("VOCtrainval_11-May-2012.tar", "6cd6e144f989b92b3379bac3b3de84fd",
             "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/"),
    "2007": ("VOCtrainval_06-Nov-2007.tar", "c52e279531787c972589f7e41ab4ae64",
             "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/"),
    "2007-test": ("VOCtest_06-Nov-2007.tar", "b6e924de25625d8de591ea690078ad9f",
                  "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/"),
}
# the Oxford server is often down; this mirror serves the same files (the MD5 is checked)
MIRROR = "https://pjreddie.com/media/files/"


def read_image(path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (Pillow, which matplotlib already needs)."""
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def read_palette_png(path) -> np.ndarray:
    """The palette indices of a palette ("P" mode) PNG as (H, W) uint8; a greyscale PNG's
    values are taken as indices too. Refuses RGB masks, whose class would need the palette."""
    from PIL import Image
    with Image.open(path) as im:
        if im.mode not in ("P", "L"):
            raise IntegrityError(f"{path}: a VOC mask must be a palette PNG (mode 'P'), found "
                                 f"mode {im.mode!r}; colours would have to be mapped back to "
                                 f"classes")
        return np.asarray(im).astype(np.uint8, copy=True)


def parse_voc_xml(node) -> dict:
    """An XML element as nested dicts of strings, torchvision's rule: a tag that repeats
    (and the annotation's "object") becomes a list; a leaf becomes its stripped text."""
    children = list(node)
    if not children:
        return {node.tag: (node.text or "").strip()}
    # the annotation always lists its objects, even none or one (torchvision does the same)
    merged = {"object": []} if node.tag == "annotation" else {}
    for child in children:
        for key, value in parse_voc_xml(child).items():
            merged.setdefault(key, []).append(value)
    return {node.tag: {k: (v if k == "object" and node.tag == "annotation" or len(v) > 1
                           else v[0]) for k, v in merged.items()}}


def voc_boxes(target, classes=VOC_CLASSES) -> dict:
    """The parsed XML of one image -> {"boxes" (K, 4) float32 xyxy pixel edges, "labels" (K,)
    int64 (1 + class index), "difficult" (K,) bool}."""
    objects = target["annotation"].get("object", [])
    boxes, labels, difficult = [], [], []
    for obj in objects:
        b = obj["bndbox"]
        xmin, ymin, xmax, ymax = (float(b[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        if obj["name"] not in classes:
            raise IntegrityError(f"VOCDetection: unknown class {obj['name']!r}; expected one "
                                 f"of {', '.join(classes)}")
        labels.append(1 + classes.index(obj["name"]))
        difficult.append(obj.get("difficult", "0") == "1")
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": np.array(labels, np.int64), "difficult": np.array(difficult, bool)}


class _VOCBase(Dataset):
    _list_folder = None          # ImageSets/<this>/
    _target_folder = None
    _target_ext = None

    def __init__(self, root=None, year="2012", image_set="train", download=False,
                 transform=None, target_transform=None, transforms=None):
        name = type(self).__name__
        if year not in ("2007", "2012"):
            raise ValueError(f"{name}: year must be '2007' or '2012', got {year!r}")
        sets = ("train", "trainval", "val", "test") if year == "2007" else \
            ("train", "trainval", "val")
        if image_set not in sets:
            raise ValueError(f"{name}: image_set must be one of {sets} for {year}, got "
                             f"{image_set!r}")
        self.root, self.year, self.image_set = data_root(root), year, image_set
        self.transform, self.target_transform, self.transforms = \
            transform, target_transform, transforms
        key = "2007-test" if (year, image_set) == ("2007", "test") else year
        self.archive, self.md5, self.url = ARCHIVES[key]
        self.voc_root = os.path.join(self.root, "VOCdevkit", f"VOC{year}")
        list_file = os.path.join(self.voc_root, "ImageSets", self._list_folder,
                                 image_set + ".txt")
        if not os.path.exists(list_file):
            self._fetch(download)
        if not os.path.exists(list_file):
            raise IntegrityError(f"{name}: {self.archive} was unpacked but has no "
                                 f"{list_file}")
        with open(list_file) as f:
            self.ids = [line.split()[0] for line in f if line.strip()]
        self.images = [os.path.join(self.voc_root, "JPEGImages", i + ".jpg") for i in self.ids]
        self.targets = [os.path.join(self.voc_root, self._target_folder, i + self._target_ext)
                        for i in self.ids]

    def _fetch(self, download):
        name = type(self).__name__
        archive = os.path.join(self.root, self.archive)
        if os.path.exists(archive):
            verify_file(archive, md5=self.md5, who=name)
        elif not download:
            raise FileNotFoundError(
                f"{name}: {self.voc_root} has no {self._list_folder} list. Pass download=True "
                f"to fetch {self.url}{self.archive} (MD5 {self.md5}), or save that archive "
                f"in {self.root} yourself (it is unpacked on first use)")
        else:
            download_from_mirrors(self.archive, [self.url, MIRROR], archive, md5=self.md5,
                                  who=name)
        extract_archive(archive, self.root, who=name)

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return f"{type(self).__name__}({self.year} {self.image_set}, {len(self)} images)"

    def _finish(self, image, target):
        if self.transforms is not None:
            return self.transforms(image, target)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class VOCDetection(_VOCBase):
    """Pascal VOC detection: (image (H, W, 3) uint8, target).

    root, year ("2007" | "2012"), image_set ("train" | "trainval" | "val", and "test" for
    2007), download, transform, target_transform, transforms (joint) as torchvision's;
    target_type: "xml" (torchvision's nested dicts) or "boxes" (see `voc_boxes`).
    """

    _list_folder, _target_folder, _target_ext = "Main", "Annotations", ".xml"
    classes = VOC_CLASSES

    def __init__(self, root=None, year="2012", image_set="train", download=False,
                 transform=None, target_transform=None, transforms=None, target_type="xml"):
        if target_type not in ("xml", "boxes"):
            raise ValueError(f"VOCDetection: target_type must be 'xml' or 'boxes', got "
                             f"{target_type!r}")
        self.target_type = target_type
        super().__init__(root, year, image_set, download, transform, target_transform,
                         transforms)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "VOCDetection")
        target = parse_voc_xml(ET.parse(self.targets[i]).getroot())
        if self.target_type == "boxes":
            target = voc_boxes(target)
        return self._finish(read_image(self.images[i]), target)


class VOCSegmentation(_VOCBase):
    """Pascal VOC segmentation: (image (H, W, 3) uint8, mask (H, W) uint8 with 0 background,
    1-20 the classes of VOC_CLASSES in order, 255 void). Arguments as VOCDetection's."""

    _list_folder, _target_folder, _target_ext = "Segmentation", "SegmentationClass", ".png"
    classes = ("background",) + VOC_CLASSES

    def __getitem__(self, index):
        i = _check_index(index, len(self), "VOCSegmentation")
        return self._finish(read_image(self.images[i]), read_palette_png(self.targets[i]))
