import os

# Tests and CI are offline and must never try to download: Hugging Face's switches, read at import, before anything imports it.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from fastai.torch_core import set_seed

matplotlib.use('Agg')
ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT / 'tests' / 'data' / 'fsdd' / 'recordings'   # the repository's credited FSDD subset (its README)
CUDA = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')]   # scripts/gpu-check runs these
DEVICES = ['cpu', pytest.param('cuda', marks=CUDA)]


@pytest.fixture(scope='module', autouse=True)
def seeded_module():
    "Module fixtures (data loaders, trained learners) are built from the same random state on every run."
    set_seed(0)


@pytest.fixture(autouse=True)
def seeded():
    "Each test starts from the same random state: it passes or fails the same way on every run, CI's included."
    set_seed(0)


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: trains a model or reads the whole data set (still run by make test)')
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU; skipped without one (scripts/gpu-check runs them: pytest -m cuda)')


@pytest.fixture(scope='session')
def fsdd():
    "400 FSDD recordings: five speakers, ten digits, indices 0-2 (the official test split) and 10-14 (training)."
    assert len(list(FSDD.glob('*.wav'))) == 400, f'the FSDD subset at {FSDD} is incomplete'
    return FSDD


@pytest.fixture(scope='session')
def fsdd_small(fsdd):
    "Four digits, all five speakers: 160 files."
    return sorted(f for f in fsdd.glob('*.wav') if f.name[0] in '0123')


@pytest.fixture(scope='session')
def hf_dirs(tmp_path_factory):
    "Tiny random Hugging Face audio classifiers saved as folders: ast, w2v (wav2vec2), hubert, wavlm (7 labels each)."
    from transformers import (ASTConfig, ASTFeatureExtractor, ASTForAudioClassification, Wav2Vec2Config,
                              Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification)
    d = tmp_path_factory.mktemp('hf')
    torch.manual_seed(0)
    ASTForAudioClassification(ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                        max_length=100, num_labels=7)).save_pretrained(d / 'ast')
    ASTFeatureExtractor(max_length=100).save_pretrained(d / 'ast')
    Wav2Vec2ForSequenceClassification(Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(32, 32), conv_stride=(5, 4),
        conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        num_labels=7)).save_pretrained(d / 'w2v')
    Wav2Vec2FeatureExtractor().save_pretrained(d / 'w2v')
    from transformers import HubertConfig, HubertForSequenceClassification, WavLMConfig, WavLMForSequenceClassification
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(32, 32),
                 conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                 classifier_proj_size=16, num_labels=7)
    HubertForSequenceClassification(HubertConfig(**small)).save_pretrained(d / 'hubert')
    WavLMForSequenceClassification(WavLMConfig(**small, num_buckets=16, max_bucket_distance=32)).save_pretrained(d / 'wavlm')
    for k in ('hubert', 'wavlm'): Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(d / k)
    return d


# A small world of tones for the events and serve tests: 0.5-s clips of a 500 Hz tone, a 2 kHz tone, or noise alone.
SR = 8000
TONES = dict(low=500, high=2000)


def tone(f, n, rng):
    "`n` samples of a tone near `f` Hz, at a random phase and level."
    t = np.arange(n) / SR
    return np.sin(2 * np.pi * f * (1 + rng.uniform(-0.05, 0.05)) * t + rng.uniform(0, 6.3)) * rng.uniform(0.2, 0.5)


def noise(n, rng, level=0.02):
    return rng.normal(0, level, n)


def tone_learner(d):
    "A SpecCNN trained to tell 0.5-s clips apart (`low`, `high` or `noise`), on 40 clips of each written under `d`/clips."
    import soundfile as sf
    from fastai.data.all import CategoryBlock, DataBlock
    from fastaudio_lite.data import AudioBlock, RegexSplitter
    from fastaudio_lite.learner import audio_learner
    from fastaudio_lite.nets import SpecCNN
    from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB
    rng = np.random.default_rng(0)
    files = []
    for label in ('low', 'high', 'noise'):
        (d / 'clips' / label).mkdir(parents=True)
        for i in range(40):
            n = SR // 2
            x = noise(n, rng, rng.uniform(0.005, 0.05))
            if label != 'noise':   # a tone filling part or all of the clip
                k = int(rng.integers(n // 2, n + 1))
                s = int(rng.integers(0, n - k + 1))
                x[s:s + k] += tone(TONES[label], k, rng)
            f = d / 'clips' / label / f'{i}.wav'
            sf.write(f, x.astype(np.float32), SR)
            files.append(f)
    dls = DataBlock(blocks=(AudioBlock(sr=SR, duration=0.5), CategoryBlock), get_items=lambda _: files,
                    get_y=lambda f: f.parent.name, splitter=RegexSplitter(r'^3\d\.wav$'),
                    batch_tfms=[MelSpectrogram(n_fft=256, hop_length=64, n_mels=32), ToDB(), SpecNormalize()]).dataloaders('.', bs=16, num_workers=0)
    learn = audio_learner(dls, SpecCNN, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(4, 3e-3)
    return learn
