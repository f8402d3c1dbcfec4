"""Modules:

- `fastaudio_lite.cli`: `demo`, `train`, `cv`, `predict`, `evaluate-events`, `serve`, `space` and `export` from the shell: a folder of recordings in, a trained model, its confusion matrix and its metrics out; a model and files in, predictions or events out; a model in a web page. It parses its arguments and calls the library (`recipes` for the data and the training, `inference` and `events` for predictions, `serve` for the page).
- `fastaudio_lite.embed`: `Embedder`s turn windows of audio into vectors: BirdNET v2.4, a fastaudio learner or model file, a Hugging Face audio model, or any ONNX file with a named output. `embed_files` embeds whole files or every window of long recordings as they are read, with a cache keyed by each file's content and the embedder: a second run on the same files costs nothing, and a run that was stopped resumes where it was.
- `fastaudio_lite.heads`: A small head (linear, or one hidden layer) trained with fastai on the vectors of a pretrained embedder: the files, labels and split of any audio `DataLoaders` (folders, names, tables, folds, groups and the leak check, as the command builds them), each file embedded once (`embed.embed_files`, cached), then `fit_one_cycle` in seconds. Its model file holds the head and the embedder's name, never code; `HeadModel` predicts files, windows and events with it."""

__version__ = "0.1.0"
