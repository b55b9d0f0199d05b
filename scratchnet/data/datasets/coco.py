"""COCO detection and instance segmentation from its JSON annotations, with torchvision's
constructor, and the two mask encodings decoded here (no pycocotools needed).

    ds = coco2017("val", download=True)                     # 5,000 images
    image, anns = ds[0]       # image (H, W, 3) uint8; anns: the image's annotation dicts
    ds = CocoDetection(root, ann_file, target_type="boxes")
    image, target = ds[0]     # boxes (K, 4) xyxy, labels, masks (K, H, W), iscrowd, area

An annotation's "segmentation" is either
- polygons: a list of [x1, y1, x2, y2, ...] outlines in pixel-edge coordinates (the corner of
  the image is (0, 0), a pixel's centre is at +0.5). `polygons_to_mask` fills the pixels
  whose centre lies inside an outline (even-odd rule) and unions the outlines;
- RLE (run-length encoding, for crowds): {"size": [h, w], "counts": ...}, the mask read in
  column-major order as alternating runs of 0s and 1s, starting with 0s. "counts" is a list
  of run lengths, or a string in COCO's compact form: each run is a signed number written
  5 bits per character (character - 48; 0x20 = another character follows, 0x10 in the last
  character = negative), and from the fourth run on the number stored is the difference to
  the run two places earlier. `rle_decode` reads both.
pycocotools rasterises polygons on a 5x finer grid, so along an outline its masks can differ
from `polygons_to_mask` by a pixel; RLE decoding is exact and equal to it.

COCO's boxes are [x, y, w, h]; target_type="boxes" gives [x, y, x + w, y + h] and labels
are the category ids as they are (1..90 with gaps; `.cat_ids` lists them).
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..dataset import Dataset, _check_index
from ._download import (IntegrityError, data_root, download_from_mirrors, extract_archive,
                        verify_file)
from .voc import read_image

# COCO 2017 archives at images.cocodataset.org. cocodataset.org publishes no checksums; these
# MD5s are the ones that public download scripts check (e.g. MLCommons' CM dataset scripts
# and PaddleDetection's COCO reader test list the annotation archive's, 252,907,541 bytes).
COCO2017 = {
    "annotations": ("annotations/", "annotations_trainval2017.zip",
                    "f4bbac642086de4f52a3fdda2de5fa2c"),
    "val": ("zips/", "val2017.zip", "442b8da7639aecaf257c1dceb8ba8c80"),
    "train": ("zips/", "train2017.zip", "cced6f7f71b7629ddf16f17bbcfab6b2"),
}
COCO_URL = "http://images.cocodataset.org/"


def rle_counts_from_string(s: str) -> list:
    """COCO's compact RLE string -> the list of run lengths (see the module docstring)."""
    counts, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise ValueError(f"rle_counts_from_string: the string ends inside a number "
                                 f"(at character {p})")
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)               # sign-extend a negative number
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_decode(rle) -> np.ndarray:
    """{"size": [h, w], "counts": list or string} -> (h, w) bool mask."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = rle_counts_from_string(counts)
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any() or counts.sum() != h * w:
        raise ValueError(f"rle_decode: the runs must be non-negative and add up to h * w = "
                         f"{h} * {w} = {h * w}, they add up to {counts.sum()}")
    values = np.arange(len(counts)) % 2 == 1            # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T.copy()                  # column-major


def polygons_to_mask(polygons, height, width) -> np.ndarray:
    """Union of filled polygons [[x1, y1, x2, y2, ...], ...] -> (height, width) bool; a pixel
    is inside when its centre (col + 0.5, row + 0.5) is inside (even-odd rule)."""
    mask = np.zeros((height, width), bool)
    cy = np.arange(height) + 0.5
    cx = np.arange(width) + 0.5
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3:
            continue
        inside = np.zeros((height, width), bool)
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for ax, ay, bx, by in zip(x0, y0, x1, y1):
            if ay == by:
                continue                                 # a horizontal edge crosses no row
            # rows whose centre line crosses this edge (half-open, so a vertex counts once)
            crosses = (cy >= min(ay, by)) & (cy < max(ay, by))
            if not crosses.any():
                continue
            xs = ax + (cy[crosses] - ay) * (bx - ax) / (by - ay)
            # a ray from a pixel centre to the left meets this edge when the crossing point
            # lies left of the centre: an odd number of meetings means inside
            inside[crosses] ^= cx[None, :] > xs[:, None]
        mask |= inside
    return mask


def annotation_to_mask(ann, height, width) -> np.ndarray:
    """One COCO annotation's "segmentation" (polygons or RLE) -> (height, width) bool."""
    seg = ann["segmentation"]
    if isinstance(seg, list):
        return polygons_to_mask(seg, height, width)
    mask = rle_decode(seg)
    if mask.shape != (height, width):
        raise IntegrityError(f"CocoDetection: annotation {ann.get('id')} has an RLE of size "
                             f"{mask.shape}, its image is {height}x{width}")
    return mask


class CocoDetection(Dataset):
    """COCO-format detection data: (image (H, W, 3) uint8, target).

    root:        folder of the images (file_name in the JSON is relative to it)
    annFile:     the instances JSON
    target_type: "annotations" (torchvision's: the list of the image's annotation dicts) or
                 "boxes" (dict of boxes (K, 4) float32 xyxy, labels (K,) int64 category ids,
                 masks (K, H, W) bool, iscrowd (K,) bool, area (K,) float32)
    transform, target_transform, transforms: as torchvision's
    """

    def __init__(self, root, annFile, transform=None, target_transform=None, transforms=None,
                 target_type="annotations"):
        if target_type not in ("annotations", "boxes"):
            raise ValueError(f"CocoDetection: target_type must be 'annotations' or 'boxes', "
                             f"got {target_type!r}")
        self.root, self.ann_file, self.target_type = os.fspath(root), os.fspath(annFile), \
            target_type
        self.transform, self.target_transform, self.transforms = \
            transform, target_transform, transforms
        with open(self.ann_file, encoding="utf-8") as f:
            data = json.load(f)
        for key in ("images", "annotations", "categories"):
            if key not in data:
                raise IntegrityError(f"CocoDetection: {self.ann_file} has no {key!r} list; "
                                     f"is it an instances_*.json file?")
        self.images = {img["id"]: img for img in data["images"]}
        self.ids = sorted(self.images)                 # torchvision: sorted(coco.imgs.keys())
        self.anns = {i: [] for i in self.ids}
        for ann in data["annotations"]:
            self.anns.setdefault(ann["image_id"], []).append(ann)
        self.categories = {c["id"]: c["name"] for c in data["categories"]}
        self.cat_ids = sorted(self.categories)

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return f"CocoDetection({len(self)} images, {len(self.categories)} categories)"

    def target_from_annotations(self, anns, height, width) -> dict:
        masks = np.stack([annotation_to_mask(a, height, width) for a in anns]) if anns \
            else np.zeros((0, height, width), bool)
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        return {"boxes": np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1),
                "labels": np.array([a["category_id"] for a in anns], np.int64),
                "masks": masks,
                "iscrowd": np.array([bool(a.get("iscrowd", 0)) for a in anns], bool),
                "area": np.array([a.get("area", 0.0) for a in anns], np.float32)}

    def __getitem__(self, index):
        i = _check_index(index, len(self), "CocoDetection")
        info = self.images[self.ids[i]]
        image = read_image(os.path.join(self.root, info["file_name"]))
        target = self.anns.get(self.ids[i], [])
        if self.target_type == "boxes":
            target = self.target_from_annotations(target, image.shape[0], image.shape[1])
        if self.transforms is not None:
            return self.transforms(image, target)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def _coco_file(root, part, download):
    folder, filename, md5 = COCO2017[part]
    archive = os.path.join(root, filename)
    if os.path.exists(archive):
        verify_file(archive, md5=md5, who="COCO")
    elif not download:
        raise FileNotFoundError(f"COCO: {filename} is not in {root}. Pass download=True to "
                                f"fetch {COCO_URL}{folder}{filename} (MD5 {md5}), or save it "
                                f"there yourself")
    else:
        download_from_mirrors(filename, [COCO_URL + folder], archive, md5=md5, who="COCO")
    extract_archive(archive, root, who="COCO")


def coco2017(split="val", root=None, download=False, **kwargs):
    """CocoDetection over COCO 2017's `split` ("val": 5,000 images, "train": 118,287) from
    <root>/coco/{split}2017/ and <root>/coco/annotations/instances_{split}2017.json, fetching
    and unpacking the archives (MD5-checked) when download=True."""
    if split not in ("val", "train"):
        raise ValueError(f"coco2017: split must be 'val' or 'train', got {split!r}")
    base = os.path.join(data_root(root), "coco")
    ann = os.path.join(base, "annotations", f"instances_{split}2017.json")
    images = os.path.join(base, f"{split}2017")
    if not os.path.exists(ann):
        _coco_file(base, "annotations", download)
    if not os.path.isdir(images):
        _coco_file(base, split, download)
    return CocoDetection(images, ann, **kwargs)
