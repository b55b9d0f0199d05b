def backward(dout, p, g, eps=1.0):
    inter = (p * g).sum(axis=(1, 2), keepdims=True)
    denom = p.sum(axis=(1, 2), keepdims=True) + g.sum(axis=(1, 2), keepdims=True) + eps
    # d/dp of -(2 I + eps) / D with I = sum p g and D = sum p + sum g + eps
    return -dout * (2 * g * denom - (2 * inter + eps)) / denom ** 2 / len(p)
