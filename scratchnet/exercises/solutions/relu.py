def backward(dout, x):
    return dout * (x > 0)
