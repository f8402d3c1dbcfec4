"""Audio classification for fastai v2. Modules (each generated from the notebook of the same number in nbs/):

- `core`: `AudioTensor`, decoding (`load_audio`, `read_clip`, `audio_windows`), resampling, `WaveCache`, `verify_audio`.
- `data`: `AudioBlock`, its loader at decode speed (`AudioDataLoader`), `clip_settings`, splitters and labellers.
- `spectrogram`: spectrogram batch transforms and the presets for speech, environmental sound and music.
- `augment`: waveform and spectrogram augmentations.
- `learner`: `audio_learner`, `SpecCNN`, `WaveCNN`, streaming prediction, show methods.
- `datasets`: data set layouts (ESC-10/ESC-50 folds, Speech Commands speakers, FSDD) and offline spoken words.
- `cli`: the `fastaudio-lite` command.
- `distributed`: fastai's distributed training on GPUs and on CPU processes.
- `models`: pretrained weights (timm, torchvision, Hugging Face) and how a model meets the batches."""

__version__ = "0.1.0"
