"""Audio classification for fastai v2. Modules (each generated from the notebook of the same name in nbs/; DESIGN.md gives their layers):

- `core`: `AudioTensor`, decoding (`load_audio`, `read_clip`, `audio_windows`), resampling, `WaveCache`, `verify_audio`.
- `data`: `AudioBlock`, its loader at decode speed (`AudioDataLoader`), `clip_settings`, splitters and labellers.
- `spectrogram`: spectrogram batch transforms and the presets for speech, environmental sound and music.
- `augment`: waveform and spectrogram augmentations.
- `nets`: the reference models `SpecCNN` and `WaveCNN`.
- `learner`: `audio_learner` and the show methods.
- `callbacks`: `WeightAverage`, `StopOnNonFinite`, `BetweenClassMix`, `recipe_callbacks`.
- `inference`: `predict_files`, `predict_windows`, `predict_events`, `predict_long`.
- `events`: windowed scores to events (`find_events`), Raven and Audacity tables, `evaluate_events`; no torch.
- `runtime`: `OnnxModel`, predictions without torch.
- `export`, `safe`: a learner as ONNX (`learn.export_onnx`) or as safetensors that load without pickle (`learn.export_safe`).
- `datasets`: data set layouts (ESC-10/ESC-50 folds, Speech Commands speakers, FSDD) and offline spoken words.
- `recipes`: `Recipe`, `recipe`, `recipe_for`, `train`, `synth_pretrain`: how to handle each kind of sound.
- `cli`: the `fastaudio-lite` command.
- `distributed`: fastai's distributed training on GPUs and on CPU processes.
- `models`: pretrained weights (timm, torchvision, Hugging Face) and how a model meets the batches."""

__version__ = "0.1.0"
