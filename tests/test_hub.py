"""Pretrained weights through the libraries' own downloads, end to end against a stand-in Hub on 127.0.0.1
(`standin_hub.py`): a download that is cached and then read offline, a Hugging Face audio model by Hub id, a download
through a proxy, a Hub that is down, errs or hangs, the command, and torchvision's weights through a `TORCH_HOME` cache.
Each case runs in a new process, since huggingface_hub reads `HF_ENDPOINT` and `HF_HUB_OFFLINE` when it is imported."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import torch
from conftest import FSDD, ROOT
from standin_hub import Proxy, StandinHub

REPO = 'timm/resnet18.a1_in1k'      # where timm's default resnet18 weights live on the Hub

LEARNER = r'''
import json, sys, warnings
import torch
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.models import first_conv
from fastaudio_lite.spectrogram import MelSpectrogram, ToDB
files = sorted(__import__('pathlib').Path(sys.argv[1]).glob('[01]_george_*.wav'))
dls = DataBlock(blocks=(AudioBlock(sr=8000, duration=0.5), CategoryBlock), get_items=lambda _: files,
                get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0),
                batch_tfms=[MelSpectrogram(n_fft=256, hop_length=80), ToDB()]).dataloaders('.', bs=4, num_workers=0)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    learn = audio_learner(dls, 'resnet18')
stem = first_conv(learn.model)[0].weight.detach()
print(json.dumps(dict(pretrained=learn.pretrained, stem=stem.sum().item(), stem_shape=list(stem.shape),
                      layer1=learn.model[0].model.layer1[0].conv1.weight.sum().item(),
                      warnings=[str(x.message) for x in w if 'pretrained' in str(x.message)])))
'''


def child_env(tmp_path, **extra):
    "The environment of a user's process: no offline switch, no proxies of the machine, a Hugging Face home of its own."
    env = {k: v for k, v in os.environ.items()
           if k not in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'NO_PROXY', 'no_proxy') and 'proxy' not in k.lower()}
    env.update(HF_HOME=str(tmp_path / 'hf'), TORCH_HOME=str(tmp_path / 'torch'), HF_HUB_DISABLE_TELEMETRY='1',
               PYTHONPATH=str(ROOT), **{k: str(v) for k, v in extra.items()})
    return env


def run_learner(env, timeout=300):
    t = time.time()
    r = subprocess.run([sys.executable, '-c', LEARNER, str(FSDD)], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1]), time.time() - t


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    "A resnet18 state dict the test made (seeded, not ImageNet's), as timm publishes it: model.safetensors."
    import timm
    from safetensors.torch import save_file
    torch.manual_seed(7)
    sd = timm.create_model('resnet18').state_dict()
    f = tmp_path_factory.mktemp('weights') / 'model.safetensors'
    save_file(sd, str(f))
    return sd, f


@pytest.fixture
def hub(weights):
    h = StandinHub()
    h.add(REPO, 'model.safetensors', weights[1])
    yield h
    h.close()


def expected(sd):
    return dict(stem=sd['conv1.weight'].sum().item(), layer1=sd['layer1.0.conv1.weight'].sum().item())


def test_default_learner_downloads_once_then_reads_the_cache_offline(hub, weights, tmp_path):
    out, _ = run_learner(child_env(tmp_path, HF_ENDPOINT=hub.url))
    assert out['pretrained'] and not out['warnings'], out
    assert out['stem_shape'] == [64, 1, 7, 7]                    # the RGB stem summed into one channel
    assert out['stem'] == pytest.approx(expected(weights[0])['stem'], rel=1e-5)
    assert out['layer1'] == pytest.approx(expected(weights[0])['layer1'], rel=1e-5)
    assert len(hub.downloads('model.safetensors')) == 1
    assert list((tmp_path / 'hf' / 'hub').glob('models--timm--resnet18.a1_in1k/snapshots/*/model.safetensors'))
    hub.requests.clear()
    out, _ = run_learner(child_env(tmp_path, HF_ENDPOINT=hub.url, HF_HUB_OFFLINE=1))
    assert out['pretrained'] and not out['warnings'] and out['layer1'] == pytest.approx(expected(weights[0])['layer1'], rel=1e-5)
    assert not [r for r in hub.requests if '/resolve/' in r[1]], hub.requests      # from the cache, not a request


def test_weights_through_a_proxy(hub, weights, tmp_path):
    "A Hub name that does not resolve here, reached through an HTTP proxy on loopback: the proxy's settings are honoured."
    proxy = Proxy(hub.url.split('//')[1])
    try:
        out, _ = run_learner(child_env(tmp_path, HF_ENDPOINT='http://hub.fastaudio-test.invalid', HTTP_PROXY=proxy.url,
                                       HTTPS_PROXY=proxy.url))
    finally: proxy.close()
    assert out['pretrained'] and not out['warnings'], out
    assert out['layer1'] == pytest.approx(expected(weights[0])['layer1'], rel=1e-5)
    assert any(u.startswith('http://hub.fastaudio-test.invalid/timm/resnet18.a1_in1k/resolve/') for u in proxy.seen), proxy.seen


def _closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return f'http://127.0.0.1:{port}'


@pytest.fixture(scope='module')
def baseline(tmp_path_factory):
    "Seconds for the same process offline (Python, the imports, the data, the learner): what the fallback adds is the rest."
    out, took = run_learner(child_env(tmp_path_factory.mktemp('baseline'), HF_HUB_OFFLINE=1))
    assert not out['pretrained'] and 'HF_HUB_OFFLINE' in out['warnings'][0]
    return took


@pytest.mark.parametrize('mode', ['down', 'error', 'hang'])
def test_fallback_within_seconds_when_the_hub_fails(hub, baseline, tmp_path, mode):
    "Down (nothing listens), answering 500, or never answering: one warning that says which, why and how, then random weights."
    hub.mode = mode
    endpoint = _closed_port() if mode == 'down' else hub.url
    out, took = run_learner(child_env(tmp_path, HF_ENDPOINT=endpoint))
    assert not out['pretrained'] and len(out['warnings']) == 1, out
    msg = out['warnings'][0]
    assert 'resnet18' in msg and endpoint in msg and 'weights=PATH' in msg and 'HF_HOME' in msg, msg
    assert {'down': 'ConnectError', 'error': '500', 'hang': 'Timeout'}[mode] in msg, msg   # httpx's ReadTimeout, or ours
    assert took - baseline < 10, (took, baseline)        # the default timeout is 5 s


def test_hf_audio_model_by_hub_id(tmp_path):
    "A tiny random AST the test saved, served under a Hub id: downloaded, fine-tuned a step, exported, loaded and predicted."
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification
    src = tmp_path / 'ast'
    ASTForAudioClassification(ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                        num_mel_bins=64, max_length=64, num_labels=3)).save_pretrained(src)
    ASTFeatureExtractor(num_mel_bins=64, max_length=64).save_pretrained(src)
    h = StandinHub()
    for f in src.iterdir(): h.add('fastaudio-test/tiny-ast', f.name, f)
    code = r'''
import sys
from pathlib import Path
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
from fastai.learner import load_learner
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.learner import audio_learner
files = sorted(Path(sys.argv[1]).glob('[01]_jackson_*.wav'))
dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=0.5), CategoryBlock), get_items=lambda _: files,
                get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0)).dataloaders('.', bs=4, num_workers=0)
learn = audio_learner(dls, 'fastaudio-test/tiny-ast')
assert learn.pretrained, 'not pretrained'
learn.fine_tune(1, 1e-3, freeze_epochs=0)
learn.export(Path(sys.argv[2]) / 'ast.pkl')
pred = load_learner(Path(sys.argv[2]) / 'ast.pkl').predict(files[0])
print('PRED', pred[0], len(pred[2]))
'''
    try:
        r = subprocess.run([sys.executable, '-c', code, str(FSDD), str(tmp_path)], capture_output=True, text=True,
                           env=child_env(tmp_path, HF_ENDPOINT=h.url), timeout=600)
    finally: h.close()
    assert r.returncode == 0, r.stderr[-3000:]
    label, n = r.stdout.strip().splitlines()[-1].split()[1:]
    assert label in ('0', '1') and n == '2'
    got = {p.rsplit('/', 1)[-1] for c, p in h.requests if c == 'GET' and '/resolve/' in p}
    assert {'config.json', 'preprocessor_config.json', 'model.safetensors'} <= got, h.requests


def test_command_downloads_the_weights(hub, tmp_path):
    data = tmp_path / 'data'
    for digit in '01':
        (data / digit).mkdir(parents=True)
        for f in sorted(FSDD.glob(f'{digit}_george_*.wav')): (data / digit / f.name).symlink_to(f)
    cmd = [sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())', 'train', str(data), '--arch', 'resnet18', '--epochs', '1', '--bs', '4', '--valid-re', r'_[0-4]\.wav$',
           '--sr', '8000', '--out', str(tmp_path / 'out')]
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(tmp_path, HF_ENDPOINT=hub.url), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'out' / 'metrics.json').read_text())['pretrained'] is True
    assert 'no pretrained weights' not in r.stderr and len(hub.downloads('model.safetensors')) == 1
    hub.mode = 'error'
    r = subprocess.run(cmd[:-1] + [str(tmp_path / 'out2')], capture_output=True, text=True,
                       env=child_env(tmp_path / 'fresh', HF_ENDPOINT=hub.url), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'out2' / 'metrics.json').read_text())['pretrained'] is False
    assert 'no pretrained weights for resnet18' in r.stderr and '500' in r.stderr, r.stderr[-2000:]


def test_torchvision_weights_from_a_torch_home_cache(tmp_path):
    "torchvision's weights come through torch.hub's cache in TORCH_HOME (its download is not tested: no stand-in here)."
    import torchvision
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    torch.manual_seed(3)
    sd = torchvision.models.resnet18().state_dict()
    ckpt = tmp_path / 'torch' / 'hub' / 'checkpoints'
    ckpt.mkdir(parents=True)
    torch.save(sd, ckpt / url.rsplit('/', 1)[-1])
    code = LEARNER.replace("audio_learner(dls, 'resnet18')", "audio_learner(dls, __import__('torchvision').models.resnet18)")
    code = code.replace("learn.model[0].model.layer1[0].conv1", "learn.model[0][4][0].conv1")
    r = subprocess.run([sys.executable, '-c', code, str(FSDD)], capture_output=True, text=True,
                       env=child_env(tmp_path, HF_HUB_OFFLINE=1), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out['pretrained'] and not out['warnings'], out
    assert out['layer1'] == pytest.approx(sd['layer1.0.conv1.weight'].sum().item(), rel=1e-5)
    assert out['stem'] == pytest.approx(sd['conv1.weight'].sum().item(), rel=1e-5)
