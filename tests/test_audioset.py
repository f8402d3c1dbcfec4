"""AudioSet CNNs (issue 55): EfficientAT's MobileNets and PANNs' CNN14 give the official code's outputs on the same
weights and inputs (tests/data/audioset_parity.npz, written by tests/data/make_audioset_parity.py from the authors'
repositories), and so do their front ends; each named model builds for one and two channels; from a checkpoint of the official layout one
fine-tunes with fastai, exports to ONNX and round-trips the safe format; offline, the one warning says where the
checkpoint goes."""
import warnings

import numpy as np
import pytest
import torch
from fastai.data.all import CategoryBlock, DataBlock

from conftest import FSDD, ROOT
from fastaudio_lite.audioset import Cnn14, DyMN, MobileNet, archs, front_end
from fastaudio_lite.core import AudioTensor
from fastaudio_lite.data import AudioBlock, NameLabeller, RegexSplitter
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.runtime import OnnxModel
from fastaudio_lite.safe import load_audio_learner

WIDTHS = {'mn04': 0.4, 'mn10': 1.0}
DY_WIDTHS = {'dymn04': 0.4}
PANNS_FRONT = dict(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000, classes_num=527)   # its 32 kHz checkpoint's
REF = ROOT / 'tests' / 'data' / 'audioset_parity.npz'


def random_weights(sd, seed=0):
    """A state dict with the keys and shapes of `sd`, drawn from NumPy's generator `seed` in key order: weights of
    unit gain (normal, std 1/sqrt(fan-in)), batch norms near the identity with random statistics, small biases."""
    rng, out = np.random.default_rng(seed), {}
    for k in sorted(sd):
        v = sd[k]
        if not v.is_floating_point(): out[k] = v.clone()
        elif k.endswith('running_var'): out[k] = torch.from_numpy(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
        elif v.ndim >= 2: out[k] = torch.from_numpy((rng.standard_normal(v.shape) / np.sqrt(v[0].numel())).astype(np.float32))
        elif k.endswith('weight'): out[k] = torch.from_numpy((1 + 0.1 * rng.standard_normal(v.shape)).astype(np.float32))
        else: out[k] = torch.from_numpy((0.1 * rng.standard_normal(v.shape)).astype(np.float32))
    return out


def inputs(seed=1):
    "Two one-second waveforms at 32 kHz `(2, 32000)` and two spectrograms of the front end's size `(2, 1, 128, 100)`."
    rng = np.random.default_rng(seed)
    return (torch.from_numpy((0.1 * rng.standard_normal((2, 32000))).astype(np.float32)),
            torch.from_numpy(rng.standard_normal((2, 1, 128, 100)).astype(np.float32)))


@pytest.mark.parametrize('name', [*WIDTHS, *DY_WIDTHS])
def test_mobilenet_gives_the_official_code_s_outputs(name):
    ref = np.load(REF)
    m = DyMN(DY_WIDTHS[name]).eval() if name in DY_WIDTHS else MobileNet(WIDTHS[name]).eval()
    m.load_state_dict(random_weights(m.state_dict()))   # strict: every official name, no other
    x = torch.from_numpy(ref['spec'])
    with torch.no_grad(): logits, emb = m(x).numpy(), m.embed(x).numpy()
    assert np.abs(logits - ref[f'{name}_logits']).max() < 1e-5 and np.abs(emb - ref[f'{name}_embedding']).max() < 1e-5
    assert np.abs(ref[f'{name}_logits']).max() > 0.1   # the comparison is of real numbers, not of zeros


def test_the_front_end_gives_the_official_code_s_spectrogram():
    ref = np.load(REF)
    wave, _ = inputs()
    assert np.array_equal(wave.numpy(), ref['wave'])
    got = front_end('mn10_as')[0](AudioTensor(wave[:, None], sr=32000))
    assert got.shape[1:] == (1, 128, 100)
    assert np.abs(got[:, 0].numpy() - ref['front']).max() < 1e-5


def test_cnn14_gives_the_official_code_s_outputs():
    ref = np.load(REF)
    m = Cnn14().eval()
    m.load_state_dict(random_weights(m.state_dict()))   # the official names, less its front end's constants
    x = torch.from_numpy(ref['cnn14_logmel'])
    with torch.no_grad(): probs, emb = torch.sigmoid(m(x)).numpy(), m.embed(x).numpy()
    assert np.abs(probs - ref['cnn14_probs']).max() < 1e-5 and np.abs(emb - ref['cnn14_embedding']).max() < 1e-5
    assert ref['cnn14_embedding'].max() > 0.1 and np.ptp(ref['cnn14_probs']) > 0.1


def test_cnn14_s_front_end_gives_the_official_spectrogram():
    "torchlibrosa's convolution STFT and librosa's filters against the FFT and ours: the same dB within float32's rounding (2e-5 dB: 5e-6 of the power)."
    ref = np.load(REF)
    wave, _ = inputs()
    x = AudioTensor(wave[:, None], sr=32000)
    for t in front_end('cnn14'): x = t(x)
    assert x.shape[1:] == (1, 64, 101)
    assert np.abs(x[:, 0].numpy() - ref['cnn14_front']).max() < 2e-5


@pytest.mark.parametrize('name', archs)
def test_each_arch_builds_for_one_and_two_channels(name):
    for n_in in (1, 2):
        m = archs[name].model(n_in, 3).eval()
        with torch.no_grad(): assert m(torch.randn(1, n_in, archs[name].front_end()[0].n_mels, 50)).shape == (1, 3)


def _dls(arch='mn04_as', digits='0123'):
    "FSDD's spoken `digits` at `arch`'s rate through its front end."
    files = sorted(f for f in FSDD.glob('*.wav') if f.name[0] in digits)
    return DataBlock(blocks=(AudioBlock(sr=archs[arch].sr, duration=0.5), CategoryBlock), get_items=lambda _: files,
                     get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(r'_[0-2]\.wav$'),
                     batch_tfms=front_end(arch)).dataloaders('.', bs=16, num_workers=0)


@pytest.mark.slow
@pytest.mark.parametrize('arch,digits', [('mn04_as', '0123'), ('dymn04_as', '0123'), ('cnn14_16k', '01')])
def test_from_an_official_checkpoint_it_fine_tunes_exports_and_round_trips(arch, digits, tmp_path):
    official = random_weights(archs[arch].model().state_dict())   # the layout of the authors' file: one channel, 527 classes
    if arch.startswith('cnn14'): official['logmel_extractor.melW'] = torch.zeros(257, 64)   # PANNs' files hold their front end too
    ckpt = tmp_path / archs[arch].file
    torch.save({'model': official} if arch.startswith('cnn14') else official, ckpt)   # PANNs' files are {'model': ...}
    dls = _dls(arch, digits)
    learn = audio_learner(dls, arch, weights=ckpt)
    body, head = learn.opt.param_groups[0]['params'], learn.opt.param_groups[-1]['params']
    assert learn.pretrained and not any(p.requires_grad for p in body if p.ndim > 1) and all(p.requires_grad for p in head)  # frozen body
    stem = learn.model.state_dict()[learn.model.stem_key]
    torch.testing.assert_close(stem, official[learn.model.stem_key])   # the checkpoint's first layer, for the one channel
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1, 1e-3, freeze_epochs=1)
    assert all(p.requires_grad for p in learn.model.parameters())
    assert np.isfinite(learn.recorder.values[-1][:2]).all()
    files = list(dls.valid_ds.items)[:12]
    with learn.no_bar(): want = learn.get_preds(dl=learn.dls.test_dl(files))[0].numpy()
    m = OnnxModel(learn.export_onnx(tmp_path / 'm.onnx'))
    assert np.abs(m([m.clip(f) for f in files]) - want).max() < 1e-4
    learn.export_safe(tmp_path / 'm.safetensors')
    rebuilt = load_audio_learner(tmp_path / 'm.safetensors')
    assert type(rebuilt.model) is type(learn.model) and rebuilt.arch == arch
    with rebuilt.no_bar(): again = rebuilt.get_preds(dl=rebuilt.dls.test_dl(files))[0].numpy()
    assert np.abs(again - want).max() < 1e-5


def test_offline_the_warning_says_where_the_checkpoint_goes(monkeypatch, tmp_path):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    dls = _dls()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        learn = audio_learner(dls, 'mn04_as')
    msgs = [str(m.message) for m in w if 'pretrained' in str(m.message)]
    assert len(msgs) == 1, msgs
    assert archs['mn04_as'].url in msgs[0] and str(tmp_path / 'torch' / 'hub' / 'checkpoints') in msgs[0], msgs[0]
    assert not learn.pretrained and learn.model.classifier[5].out_features == 4
    assert all(p.requires_grad for p in learn.model.parameters())   # random weights train whole


@pytest.mark.slow
def test_a_head_on_its_embeddings_trains_and_loads_again(tmp_path):
    "An AudioSet CNN as an embedder (its pooled features): a head trains on them, and its model file makes the embedder again."
    from fastaudio_lite.embed import embedder
    from fastaudio_lite.heads import HeadModel, train_head
    torch.manual_seed(0)
    torch.save(MobileNet(0.4).state_dict(), tmp_path / 'mn04.pt')
    emb = embedder('mn04_as', weights=tmp_path / 'mn04.pt', window_s=0.5)
    dls = _dls()
    learn, metrics = train_head(dls, emb, tmp_path / 'head', epochs=3, cache=False)
    assert metrics['embedder']['spec'] == 'mn04_as' and metrics['embedder']['dim'] == 384
    hm = HeadModel(tmp_path / 'head' / 'model.safetensors', cache=False)
    assert hm.emb.key == emb.key   # made again from the name and the file, the same weights
    files = list(dls.valid_ds.items)[:8]
    got = list(hm.predict(files))
    assert len(got) == 8 and all(p.error is None and p.label in dls.vocab and 0 <= p.prob <= 1 for p in got)
