"""Modules:

- `fastaudio_lite.learner`: A fastai `Learner` for audio batches: a timm or torchvision model (or any model) adapted to the number of input channels the batch transforms make, pretrained weights adapted when they are on the machine, the seed write-ups' reference models `SpecCNN` and `WaveCNN`, `predict_long`, and the show methods behind `show_results` and `plot_top_losses`."""

__version__ = "0.1.0"
