"Pretrained weights (a hand-laid Hub cache, the offline fallback) and Hugging Face audio models in a fastai Learner; downloads are in test_hub.py."
import os
import subprocess
import sys
import time
import warnings

import pytest
import torch
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
from fastai.interpret import ClassificationInterpretation
from fastai.learner import load_learner
from fastai.metrics import accuracy

from fastaudio_lite.augment import AddNoise
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.models import ASTFeatures, WaveNormalize

CACHED = r'''
import json, sys, torch, timm
from pathlib import Path
from safetensors.torch import save_file
cache = Path(sys.argv[1])
snap = cache / 'models--timm--resnet18.a1_in1k' / 'snapshots' / ('0' * 40)
snap.mkdir(parents=True)
(cache / 'models--timm--resnet18.a1_in1k' / 'refs').mkdir()
(cache / 'models--timm--resnet18.a1_in1k' / 'refs' / 'main').write_text('0' * 40)
torch.manual_seed(1)
sd = timm.create_model('resnet18').state_dict()
save_file(sd, str(snap / 'model.safetensors'))
from fastaudio_lite.models import create_audio_model, first_conv
model, _, name, used, freeze = create_audio_model('resnet18', torch.zeros(2, 1, 64, 50), 10)   # an AudioModel (a named tuple)
stem = first_conv(model)[0].weight
print(json.dumps(dict(used=used, freeze=freeze, stem_is_sum=bool(torch.allclose(stem, sd['conv1.weight'].sum(1, keepdim=True))),
                      layer1=bool(torch.equal(model[0].model.layer1[0].conv1.weight, sd['layer1.0.conv1.weight'])))))
'''


def test_default_learner_loads_a_filled_hub_cache(tmp_path):
    "The default (pretrained) learner finds timm's weights in a Hugging Face cache laid out by hand, and sums the RGB stem."
    env = {**os.environ, 'HF_HUB_CACHE': str(tmp_path), 'HF_HUB_OFFLINE': '1'}
    r = subprocess.run([sys.executable, '-c', CACHED, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    import json
    assert json.loads(r.stdout.strip().splitlines()[-1]) == dict(used=True, freeze=True, stem_is_sum=True, layer1=True)
    assert 'no pretrained weights' not in r.stderr


def test_offline_fallback_is_fast_and_says_how(fsdd_small):
    dls = DataBlock(blocks=(AudioBlock(sr=8000, duration=0.5), CategoryBlock), get_items=lambda _: fsdd_small[:32],
                    get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0)).dataloaders('.', bs=8, num_workers=0)
    from fastaudio_lite.spectrogram import MelSpectrogram
    dls.after_batch.add(MelSpectrogram(n_fft=256, hop_length=80))
    t = time.time()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        learn = audio_learner(dls, 'resnet18')
    assert time.time() - t < 10
    msgs = [str(x.message) for x in w if 'pretrained' in str(x.message)]
    assert len(msgs) == 1 and 'resnet18' in msgs[0] and 'HF_HUB_OFFLINE' in msgs[0] and 'weights=PATH' in msgs[0], msgs
    assert not learn.pretrained


@pytest.mark.parametrize('kind,features', [('ast', ASTFeatures), ('w2v', WaveNormalize)])
def test_hf_model_in_a_fastai_learner(hf_dirs, fsdd_small, tmp_path, kind, features):
    "The README's DataBlock with waveform augmentation only: train, fine_tune, bf16, interpretation, export, predict."
    files = fsdd_small[::4]
    dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=1.0), CategoryBlock), get_items=lambda _: files,
                    get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0),
                    batch_tfms=[AddNoise(snr_db=(10, 30))]).dataloaders('.', bs=8, num_workers=0)
    learn = audio_learner(dls, hf_dirs / kind, metrics=accuracy)
    assert isinstance(learn.model.features, features) and learn.pretrained
    assert learn.model.model.config.num_labels == 4 and learn.model.model.config.id2label[0] == str(dls.vocab[0])
    learn.lr_find(num_it=5, show_plot=False)
    learn.fine_tune(1, 1e-3, freeze_epochs=1)   # frozen body, then all
    assert all(p.requires_grad for p in learn.model.parameters())
    learn.to_bf16()
    learn.fit(1, 1e-4)
    learn.to_fp32()
    interp = ClassificationInterpretation.from_learner(learn)
    assert interp.confusion_matrix().sum() == len(dls.valid_ds)
    pred = learn.predict(files[0])
    learn.export(tmp_path / 'hf.pkl')
    again = load_learner(tmp_path / 'hf.pkl').predict(files[0])
    assert pred[0] == again[0]
    torch.testing.assert_close(pred[2], again[2], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('kind', ['hubert', 'wavlm'])
def test_hubert_and_wavlm_train_and_export(hf_dirs, fsdd_small, tmp_path, kind):
    "The other wav2vec2-style models (same feature extraction, without normalisation here): a head for the vocab, a fit, export."
    files = fsdd_small[::10]
    dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=0.5), CategoryBlock), get_items=lambda _: files,
                    get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0)).dataloaders('.', bs=8, num_workers=0)
    learn = audio_learner(dls, hf_dirs / kind, metrics=accuracy)
    assert isinstance(learn.model.features, WaveNormalize) and not learn.model.features.do_normalize
    learn.fit(1, 1e-3)
    learn.export(tmp_path / 'm.pkl')
    assert load_learner(tmp_path / 'm.pkl').predict(files[0])[0] == learn.predict(files[0])[0]
