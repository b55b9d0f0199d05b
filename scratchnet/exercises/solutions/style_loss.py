def backward(dout, f, a):
    c = f.shape[0]
    m = f.shape[1] * f.shape[2]
    fm = f.reshape(c, m)
    g = fm @ fm.T
    # (G - A) is symmetric, so both factors of G = F F^T give (G - A) F
    return (dout * (g - a) @ fm / (c * c * m * m)).reshape(f.shape)
