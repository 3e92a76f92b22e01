"""Chapter 2 — linear + softmax.  Fill in each function, then: python course/check.py 2"""


def softmax_cross_entropy_grad(logits, labels):
    """Exercise 2: the gradient of the mean softmax cross-entropy over the rows of ``logits`` (N, C)
    with integer ``labels`` (N,), by hand (the check compares it with a central difference)."""
    raise NotImplementedError
