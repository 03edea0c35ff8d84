"""neuroevo: neuroevolution and gradient optimizers compared on the same footing."""

__version__ = "0.1.0"
