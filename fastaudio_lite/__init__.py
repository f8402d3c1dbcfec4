"""Modules:

- `fastaudio_lite.cli`: `demo`, `train`, `cv`, `predict`, `evaluate-events`, `serve`, `space` and `export` from the shell: a folder of recordings in, a trained model, its confusion matrix and its metrics out; a model and files in, predictions or events out; a model in a web page. It parses its arguments and calls the library (`recipes` for the data and the training, `inference` and `events` for predictions, `serve` for the page)."""

__version__ = "0.1.0"
