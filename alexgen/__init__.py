"""alexgen: compile a declarative AlexNet-family spec into Keras 3 and PyTorch source."""

__version__ = "0.1.0"
