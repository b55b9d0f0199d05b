"""VOCDetection, VOCSegmentation and CocoDetection on small files the tests write (palette PNGs
encoded by hand, XML, COCO JSON with polygons and RLE), downloads from a fake server, and
RLE/polygon decoding against pycocotools when it is installed."""
import importlib
import io
import json
import os
import struct
import tarfile
import zipfile
import zlib

import numpy as np
import pytest

from scratchnet.data.datasets import IntegrityError, _download
from scratchnet.data.datasets.coco import (CocoDetection, coco2017, polygons_to_mask,
                                           rle_counts_from_string, rle_decode)
from scratchnet.data.datasets.voc import VOCDetection, VOCSegmentation, parse_voc_xml
from tests.test_data_datasets import FakeServer, md5

voc_module = importlib.import_module("scratchnet.data.datasets.voc")
coco_module = importlib.import_module("scratchnet.data.datasets.coco")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def palette_png(indices: np.ndarray, palette) -> bytes:
    """A palette PNG (colour type 3, 8 bits) written from the PNG specification: IHDR, PLTE,
    IDAT holding zlib-compressed rows, each prefixed by filter byte 0, and IEND."""
    h, w = indices.shape
    rows = b"".join(b"\x00" + bytes(row.astype(np.uint8)) for row in indices)
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
            + png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel()))
            + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def png_rgb(image: np.ndarray) -> bytes:
    h, w, _ = image.shape
    rows = b"".join(b"\x00" + bytes(row.astype(np.uint8).ravel()) for row in image)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


XML_TWO = """<annotation>
  <folder>VOC2012</folder><filename>a.jpg</filename>
  <size><width>6</width><height>4</height><depth>3</depth></size>
  <object><name>dog</name><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
  <object><name>person</name><difficult>1</difficult>
    <bndbox><xmin>4</xmin><ymin>1</ymin><xmax>6</xmax><ymax>2</ymax></bndbox></object>
</annotation>"""
XML_ONE = """<annotation><filename>b.jpg</filename>
  <object><name>cat</name><truncated>1</truncated>
    <bndbox><xmin>2</xmin><ymin>2</ymin><xmax>2</xmax><ymax>3</ymax></bndbox></object>
</annotation>"""
IMAGE_A = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3
IMAGE_B = np.full((4, 6, 3), 200, np.uint8)
MASK_A = np.array([[0, 0, 12, 12, 255, 0], [0, 255, 12, 12, 255, 0],
                   [15, 15, 255, 0, 0, 0], [15, 15, 255, 0, 0, 1]], np.uint8)
# colours that are no function of the class, so that reading colours would give wrong classes
PALETTE = np.random.default_rng(0).integers(0, 256, (256, 3))


def voc_files(year="2012"):
    base = f"VOCdevkit/VOC{year}/"
    return {base + "JPEGImages/a.jpg": png_rgb(IMAGE_A),      # Pillow reads by content
            base + "JPEGImages/b.jpg": png_rgb(IMAGE_B),
            base + "Annotations/a.xml": XML_TWO.encode(),
            base + "Annotations/b.xml": XML_ONE.encode(),
            base + "SegmentationClass/a.png": palette_png(MASK_A, PALETTE),
            base + "ImageSets/Main/train.txt": b"a\nb\n",
            base + "ImageSets/Segmentation/train.txt": b"a\n"}


def write_tree(root, files):
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_voc_detection_parses_xml_as_torchvision_does(tmp_path):
    write_tree(tmp_path, voc_files())
    ds = VOCDetection(tmp_path, year="2012", image_set="train")
    assert len(ds) == 2
    image, target = ds[0]
    np.testing.assert_array_equal(image, IMAGE_A)
    ann = target["annotation"]
    assert ann["filename"] == "a.jpg" and ann["size"] == {"width": "6", "height": "4",
                                                          "depth": "3"}
    assert ann["object"][1] == {"name": "person", "difficult": "1",
                                "bndbox": {"xmin": "4", "ymin": "1", "xmax": "6", "ymax": "2"}}
    _, one = ds[1]
    assert isinstance(one["annotation"]["object"], list) and len(one["annotation"]["object"]) == 1
    empty = parse_voc_xml(__import__("xml.etree.ElementTree").etree.ElementTree.fromstring(
        "<annotation><filename>c.jpg</filename></annotation>"))
    assert empty == {"annotation": {"object": [], "filename": "c.jpg"}}


def test_voc_boxes_are_pixel_edges_with_difficult_flags(tmp_path):
    write_tree(tmp_path, voc_files())
    ds = VOCDetection(tmp_path, image_set="train", target_type="boxes")
    _, t = ds[0]
    # VOC's 1-based inclusive corners (1, 2)-(3, 4) cover columns 0..2 and rows 1..3
    np.testing.assert_array_equal(t["boxes"], [[0, 1, 3, 4], [3, 0, 6, 2]])
    np.testing.assert_array_equal(t["labels"], [12, 15])          # dog, person (1-based)
    np.testing.assert_array_equal(t["difficult"], [False, True])
    _, t = ds[1]
    np.testing.assert_array_equal(t["boxes"], [[1, 1, 2, 3]])       # a one-column box
    np.testing.assert_array_equal(t["difficult"], [False])          # absent -> not difficult


def test_voc_segmentation_reads_palette_indices(tmp_path):
    write_tree(tmp_path, voc_files())
    ds = VOCSegmentation(tmp_path, image_set="train")
    image, mask = ds[0]
    np.testing.assert_array_equal(image, IMAGE_A)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, MASK_A)                      # 255 stays void
    assert ds.classes[12] == "dog" and ds.classes[15] == "person"


def test_voc_segmentation_refuses_rgb_masks(tmp_path):
    files = voc_files()
    files["VOCdevkit/VOC2012/SegmentationClass/a.png"] = png_rgb(IMAGE_A)
    write_tree(tmp_path, files)
    with pytest.raises(IntegrityError, match="palette PNG"):
        VOCSegmentation(tmp_path, image_set="train")[0]


def test_voc_joint_transforms_get_image_and_target(tmp_path):
    write_tree(tmp_path, voc_files())
    calls = []
    ds = VOCSegmentation(tmp_path, image_set="train",
                         transforms=lambda im, m: calls.append((im.shape, m.shape)) or (1, 2))
    assert ds[0] == (1, 2) and calls == [((4, 6, 3), (4, 6))]


def test_voc_download_unpacks_then_uses_the_cache(tmp_path, monkeypatch):
    archive = tar_bytes(voc_files())
    name, _, url = voc_module.ARCHIVES["2012"]
    monkeypatch.setitem(voc_module.ARCHIVES, "2012", (name, md5(archive), url))
    # the first mirror is down, the second serves the archive
    server = FakeServer({voc_module.MIRROR + name: archive}, down=[url])
    monkeypatch.setattr(_download, "urlopen", server)
    ds = VOCDetection(tmp_path, image_set="train", download=True)
    assert len(ds) == 2 and [c[0] for c in server.calls] == [url + name, voc_module.MIRROR + name]
    VOCDetection(tmp_path, image_set="train", download=True)
    assert len(server.calls) == 2                                   # cached: no new request


def test_voc_missing_corrupt_and_unsafe_archives(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download=True.*6cd6e144f989b92b3379bac3b3de84fd"):
        VOCDetection(tmp_path, image_set="train")
    name = voc_module.ARCHIVES["2012"][0]
    (tmp_path / name).write_bytes(b"not the archive")
    with pytest.raises(IntegrityError, match="md5"):
        VOCDetection(tmp_path, image_set="train")
    evil = tar_bytes({"../evil.txt": b"x", **voc_files()})
    monkeypatch.setitem(voc_module.ARCHIVES, "2012", (name, md5(evil), "http://x/"))
    (tmp_path / name).write_bytes(evil)
    with pytest.raises(IntegrityError, match="outside"):
        VOCDetection(tmp_path, image_set="train")
    assert not (tmp_path.parent / "evil.txt").exists()
    with pytest.raises(ValueError, match="image_set"):
        VOCDetection(tmp_path, year="2012", image_set="test")


def test_rle_string_worked_by_hand():
    # runs 3, 5, 1 are stored as they are ("3", "5", "1"); the fourth run, 1, is stored as
    # 1 - 5 = -4 (its difference to the run two places earlier): 5-bit two's complement
    # 0b11100 = 28, whose bit 0x10 marks it negative, written chr(48 + 28) = "L"
    assert rle_counts_from_string("351L") == [3, 5, 1, 1]
    # column-major: columns 00, 01, 11, 11, 01
    mask = rle_decode({"size": [2, 5], "counts": "351L"})
    np.testing.assert_array_equal(mask, [[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(rle_decode({"size": [2, 5], "counts": [3, 5, 1, 1]}), mask)
    # a run longer than 31 needs two characters: 40 = 0b01000 + 0b00001 << 5
    assert rle_counts_from_string(chr(48 + (40 & 0x1F | 0x20)) + chr(48 + 1)) == [40]
    with pytest.raises(ValueError, match="add up"):
        rle_decode({"size": [2, 5], "counts": [3, 5]})


def test_polygons_worked_by_hand():
    # a rectangle from (1, 1) to (4, 3): pixel centres x in 1.5..3.5, y in 1.5..2.5
    square = polygons_to_mask([[1, 1, 4, 1, 4, 3, 1, 3]], 5, 6)
    expected = np.zeros((5, 6), bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(square, expected)
    # the triangle x + y < 4.5: pixel (r, c) is inside when c + r + 1 < 4.5
    tri = polygons_to_mask([[0, 0, 4.5, 0, 0, 4.5]], 4, 4)
    r, c = np.mgrid[:4, :4]
    np.testing.assert_array_equal(tri, c + r + 1 < 4.5)
    # two outlines are a union
    two = polygons_to_mask([[0, 0, 1, 0, 1, 1, 0, 1], [2, 2, 3, 2, 3, 3, 2, 3]], 3, 3)
    np.testing.assert_array_equal(two, np.eye(3, dtype=bool) & [[1, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_rle_and_polygons_against_pycocotools():
    cmask = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(1)
    for trial in range(10):
        h, w = rng.integers(5, 60, 2)
        m = rng.random((h, w)) < rng.uniform(0.05, 0.95)
        rle = cmask.encode(np.asfortranarray(m.astype(np.uint8)))
        np.testing.assert_array_equal(
            rle_decode({"size": rle["size"], "counts": rle["counts"].decode()}), m)
        np.testing.assert_array_equal(rle_decode(rle), m)               # bytes counts too
    for trial in range(10):
        h, w = 48, 64
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radius = rng.uniform(8, 20, 7)
        cx, cy = rng.uniform(20, 44), rng.uniform(20, 28)
        poly = np.ravel(np.column_stack([cx + radius * np.cos(angles),
                                         cy + radius * np.sin(angles)])).tolist()
        ours = polygons_to_mask([poly], h, w)
        theirs = cmask.decode(cmask.merge(cmask.frPyObjects([poly], h, w))).astype(bool)
        iou = (ours & theirs).sum() / (ours | theirs).sum()
        # they rasterise on a 5x finer grid: disagreements lie along the outline
        pts = np.reshape(poly, (-1, 2))
        perimeter = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T).sum()
        assert iou > 0.95 and (ours ^ theirs).sum() <= perimeter, (trial, iou)


def coco_json(file_names=("x.png", "y.png")):
    return {
        "images": [{"id": 7, "file_name": file_names[0], "height": 4, "width": 6},
                   {"id": 3, "file_name": file_names[1], "height": 4, "width": 6}],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 18, "iscrowd": 0, "area": 6.0,
             "bbox": [1, 1, 3, 2], "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]]},
            {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 1, "area": 3.0,
             "bbox": [0, 0, 2, 2], "segmentation": {"size": [4, 6], "counts": [1, 2, 1, 1, 19]}},
        ]}


def test_coco_detection_targets(tmp_path):
    (tmp_path / "x.png").write_bytes(png_rgb(IMAGE_A))
    (tmp_path / "y.png").write_bytes(png_rgb(IMAGE_B))
    (tmp_path / "ann.json").write_text(json.dumps(coco_json()))
    ds = CocoDetection(tmp_path, tmp_path / "ann.json")
    assert len(ds) == 2 and ds.ids == [3, 7]                     # sorted ids, as torchvision
    image, anns = ds[0]
    np.testing.assert_array_equal(image, IMAGE_B)
    assert anns == []
    image, anns = ds[1]
    np.testing.assert_array_equal(image, IMAGE_A)
    assert [a["id"] for a in anns] == [1, 2]
    _, t = CocoDetection(tmp_path, tmp_path / "ann.json", target_type="boxes")[1]
    np.testing.assert_array_equal(t["boxes"], [[1, 1, 4, 3], [0, 0, 2, 2]])
    np.testing.assert_array_equal(t["labels"], [18, 1])
    np.testing.assert_array_equal(t["iscrowd"], [False, True])
    expected = np.zeros((2, 4, 6), bool)
    expected[0, 1:3, 1:4] = True
    # runs 1, 2, 1, 1, 19 column-major: (1,0), (2,0) on, then (0,1) on
    expected[1, 1, 0] = expected[1, 2, 0] = expected[1, 0, 1] = True
    np.testing.assert_array_equal(t["masks"], expected)


def test_coco2017_download_and_cache(tmp_path, monkeypatch):
    ann_zip, img_zip = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(ann_zip, "w") as z:
        z.writestr("annotations/instances_val2017.json",
                   json.dumps(coco_json(("000000000007.jpg", "000000000003.jpg"))))
    with zipfile.ZipFile(img_zip, "w") as z:
        z.writestr("val2017/000000000007.jpg", png_rgb(IMAGE_A))
        z.writestr("val2017/000000000003.jpg", png_rgb(IMAGE_B))
    files = {"annotations": ann_zip.getvalue(), "val": img_zip.getvalue()}
    for part, data in files.items():
        folder, name, _ = coco_module.COCO2017[part]
        monkeypatch.setitem(coco_module.COCO2017, part, (folder, name, md5(data)))
    server = FakeServer({coco_module.COCO_URL + "annotations/annotations_trainval2017.zip":
                         files["annotations"],
                         coco_module.COCO_URL + "zips/val2017.zip": files["val"]})
    monkeypatch.setattr(_download, "urlopen", server)
    with pytest.raises(FileNotFoundError, match="download=True"):
        coco2017("val", root=tmp_path)
    ds = coco2017("val", root=tmp_path, download=True)
    np.testing.assert_array_equal(ds[1][0], IMAGE_A)
    assert len(server.calls) == 2
    coco2017("val", root=tmp_path, download=True)
    assert len(server.calls) == 2


def test_published_checksums_are_the_cited_ones():
    assert voc_module.ARCHIVES["2012"][:2] == ("VOCtrainval_11-May-2012.tar",
                                               "6cd6e144f989b92b3379bac3b3de84fd")
    assert voc_module.ARCHIVES["2007"][:2] == ("VOCtrainval_06-Nov-2007.tar",
                                               "c52e279531787c972589f7e41ab4ae64")
    assert coco_module.COCO2017["annotations"][1:] == ("annotations_trainval2017.zip",
                                                       "f4bbac642086de4f52a3fdda2de5fa2c")
