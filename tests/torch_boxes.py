"""torchvision's box formulas written in plain torch ops, as torchvision/ops/boxes.py and
torchvision/models/detection/_utils.py state them (torchvision itself cannot be installed
here). Used by the live tests in tests/test_boxes.py and by tests/reference/generate_boxes.py.
Every function takes the torch module first, so importing this file needs no torch."""
import math


def torch_box_iou(torch, b1, b2):
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (area1[:, None] + area2 - inter)


def torch_nms(torch, boxes, scores, thr):
    """The CPU kernel's loop: stable descending sort, suppress IoU > thr."""
    order = torch.sort(scores, stable=True, descending=True)[1]
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        iou = torch_box_iou(torch, boxes[i:i + 1], boxes)[0]
        suppressed |= iou > thr
    return torch.tensor(keep, dtype=torch.int64)


def torch_batched_nms(torch, boxes, scores, idxs, thr):
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return torch_nms(torch, boxes + offsets[:, None], scores, thr)


def torch_decode(torch, codes, boxes, weights, clip=math.log(1000.0 / 16)):
    wx, wy, ww, wh = weights
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    cx = boxes[:, 0] + 0.5 * widths
    cy = boxes[:, 1] + 0.5 * heights
    dx, dy = codes[:, 0::4] / wx, codes[:, 1::4] / wy
    dw = torch.clamp(codes[:, 2::4] / ww, max=clip)
    dh = torch.clamp(codes[:, 3::4] / wh, max=clip)
    px, py = dx * widths[:, None] + cx[:, None], dy * heights[:, None] + cy[:, None]
    pw, ph = torch.exp(dw) * widths[:, None], torch.exp(dh) * heights[:, None]
    return torch.stack((px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph),
                       dim=2).flatten(1)


def torch_encode(torch, gt, prop, weights):
    wx, wy, ww, wh = weights
    pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
    px, py = prop[:, 0] + 0.5 * pw, prop[:, 1] + 0.5 * ph
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    return torch.stack((wx * (gx - px) / pw, wy * (gy - py) / ph,
                        ww * torch.log(gw / pw), wh * torch.log(gh / ph)), dim=1)
