"""AudioSet CNNs (issue 55): EfficientAT's MobileNets give the official code's outputs on the same weights and inputs
(tests/data/audioset_parity.npz, written by tests/data/make_audioset_parity.py from EfficientAT's repository), and so
does their front end; each named model builds for one and two channels; from a checkpoint of the official layout one
fine-tunes with fastai, exports to ONNX and round-trips the safe format; offline, the one warning says where the
checkpoint goes."""
import warnings

import numpy as np
import pytest
import torch
from fastai.data.all import CategoryBlock, DataBlock

from conftest import FSDD, ROOT
from fastaudio_lite.audioset import MobileNet, archs, front_end
from fastaudio_lite.core import AudioTensor
from fastaudio_lite.data import AudioBlock, NameLabeller, RegexSplitter
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.runtime import OnnxModel
from fastaudio_lite.safe import load_audio_learner

WIDTHS = {'mn04': 0.4, 'mn10': 1.0}
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


@pytest.mark.parametrize('name', WIDTHS)
def test_mobilenet_gives_the_official_code_s_outputs(name):
    ref = np.load(REF)
    m = MobileNet(WIDTHS[name]).eval()
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


@pytest.mark.parametrize('name', archs)
def test_each_arch_builds_for_one_and_two_channels(name):
    for n_in in (1, 2):
        m = archs[name].model(n_in, 3).eval()
        with torch.no_grad(): assert m(torch.randn(1, n_in, archs[name].front_end()[0].n_mels, 50)).shape == (1, 3)


def _dls():
    "Four FSDD digits at 32 kHz through mn04_as's front end."
    files = sorted(f for f in FSDD.glob('*.wav') if f.name[0] in '0123')
    return DataBlock(blocks=(AudioBlock(sr=32000, duration=0.5), CategoryBlock), get_items=lambda _: files,
                     get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(r'_[0-2]\.wav$'),
                     batch_tfms=front_end('mn04_as')).dataloaders('.', bs=16, num_workers=0)


@pytest.mark.slow
def test_from_an_official_checkpoint_it_fine_tunes_exports_and_round_trips(tmp_path):
    official = MobileNet(0.4).state_dict()            # the layout of mn04_as_mAP_432.pt: one channel, 527 classes
    official = random_weights(official)
    torch.save(official, tmp_path / 'mn04_as_mAP_432.pt')
    dls = _dls()
    learn = audio_learner(dls, 'mn04_as', weights=tmp_path / 'mn04_as_mAP_432.pt')
    assert learn.pretrained and not any(p.requires_grad for p in learn.model.features[1].parameters() if p.ndim > 1)  # frozen body
    torch.testing.assert_close(learn.model.features[3].block[0][0].weight.detach(), official['features.3.block.0.0.weight'])
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1, 1e-3, freeze_epochs=1)
    assert all(p.requires_grad for p in learn.model.parameters())
    assert np.isfinite(learn.recorder.values[-1][:2]).all()
    files = [f for f in dls.valid_ds.items][:12]
    with learn.no_bar(): want = learn.get_preds(dl=learn.dls.test_dl(files))[0].numpy()
    m = OnnxModel(learn.export_onnx(tmp_path / 'm.onnx'))
    assert np.abs(m([m.clip(f) for f in files]) - want).max() < 1e-4
    learn.export_safe(tmp_path / 'm.safetensors')
    rebuilt = load_audio_learner(tmp_path / 'm.safetensors')
    assert type(rebuilt.model) is MobileNet and rebuilt.arch == 'mn04_as'
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
