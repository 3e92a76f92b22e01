"""Chapter 3 — convolution.  Fill in each function, then: python course/check.py 3"""


def im2col(x, k=3, pad=1, stride=1):
    """Exercise 1: every k×k patch of the zero-padded NCHW input ``x``, taken every ``stride`` pixels,
    as one row: (N·H_out·W_out, C·k·k), channels outermost (as in the chapter)."""
    raise NotImplementedError


def col2im(cols, shape, k=3, pad=1):
    """Exercise 2: the adjoint of im2col (stride 1): add every row back onto the pixels it came from;
    ``shape`` is the input's (N, C, H, W)."""
    raise NotImplementedError
