"""colorize: a CNN that predicts the colour (CIE a, b) of a photo from its lightness L.

    from colorize import colorize, load_model, train
    rgb = colorize(gray_array)                 # the shipped model
    history = train(data="photos/", out="run/", steps=2000)
    history = train("photos/", "run/", TrainingSettings(steps=2000, hints=True))   # the same, as one object
"""
from enhance.colorspace import lab_to_rgb, rgb_to_lab
from .infer import colorize, load_model
from .model import Colorizer
from .train import TrainingSettings, train

__all__ = ["Colorizer", "TrainingSettings", "colorize", "lab_to_rgb", "load_model", "rgb_to_lab", "train"]
