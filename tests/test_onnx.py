"""ONNX export and the torch-free predictor: the ONNX file's probabilities match the learner's on the same files, for
each front end and model kind; a file exported here is predicted in a process without torch; multi-label models,
windows of a long file, refusals and the command; a transform defined in this file alone trains, exports and
round-trips the safe format."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
import torchvision
from fastai.data.all import CategoryBlock, DataBlock, MultiCategoryBlock

from conftest import FSDD
from fastaudio_lite.data import AudioBlock, NameLabeller, RegexSplitter
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
from fastaudio_lite.errors import ExportError
from fastaudio_lite.inference import predict_windows
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.nets import SpecCNN, WaveCNN
from fastaudio_lite.recipes import recipe
from fastaudio_lite.runtime import OnnxModel
from fastaudio_lite.safe import load_audio_learner
from fastaudio_lite.spectrogram import AudioSpectrogram, MelSpectrogram, SpecNormalize, SpecTransform

FILES = sorted(f for f in FSDD.glob('*.wav') if f.name[0] in '0123')
VALID = r'_[0-2]\.wav$'
TEST = [f for f in FILES if f.stem.split('_')[2] in ('0', '1', '2')]   # the held-out recordings, 60 files


def learner(spec='mel', coord=False, arch=SpecCNN, epochs=1, multi=False):
    "A learner on four FSDD digits at 8 kHz with the speech recipe's batch transforms for `spec`, trained `epochs`."
    r = recipe('speech', sr=8000, spec=spec, coord=coord)
    label = NameLabeller(r'^(\d)_')
    y = (MultiCategoryBlock, lambda f: [label(f), 'even' if int(label(f)) % 2 == 0 else 'odd']) if multi else (CategoryBlock, label)
    dls = DataBlock(blocks=(r.block(), y[0]), get_items=lambda _: FILES, get_y=y[1], splitter=RegexSplitter(VALID),
                    batch_tfms=r.batch_tfms()).dataloaders('.', bs=16, num_workers=0)
    learn = audio_learner(dls, arch, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 3e-3)
    return learn


def learner_probs(learn, files):
    with learn.no_bar(): return learn.get_preds(dl=learn.dls.test_dl(files))[0].numpy()


CASES = [(spec, coord, SpecCNN) for spec in ('mel', 'stft', 'complex', 'mfcc') for coord in (False, True)] + [
    ('mel', False, 'resnet18'), ('complex', True, 'resnet18'), ('mel', False, torchvision.models.resnet18), ('wave', False, WaveCNN)]


@pytest.mark.slow
@pytest.mark.parametrize('spec,coord,arch', CASES, ids=lambda v: getattr(v, '__name__', str(v)))
def test_onnx_matches_the_learner(spec, coord, arch, tmp_path):
    learn = learner(spec, coord, arch)
    path = learn.export_onnx(tmp_path / 'm.onnx')
    m = OnnxModel(path)
    got, want = m([m.clip(f) for f in TEST]), learner_probs(learn, TEST)
    assert np.abs(got - want).max() < 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()
    assert (m.sr, m.n_samples, m.labels) == (8000, 8000, ['0', '1', '2', '3'])


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp('onnx')
    learn = learner('mel', epochs=3)
    learn.export(d / 'model.pkl')
    learn.export_onnx(d / 'model.onnx')
    return learn, d


@pytest.mark.slow
def test_predicted_in_a_process_without_torch(exported):
    "The runtime imports nothing of torch, fastai or fastcore: a finder refuses them, and the probabilities are the learner's."
    learn, d = exported
    code = f'''
import importlib.abc, json, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'fastai', 'fastcore', 'torchvision', 'timm', 'matplotlib'): raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Refuse())
from fastaudio_lite.runtime import OnnxModel
m = OnnxModel({str(d / 'model.onnx')!r})
files = json.loads(sys.stdin.read())
print(json.dumps(m([m.clip(f) for f in files]).tolist()))
print(sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'fastai', 'fastcore')))
'''
    r = subprocess.run([sys.executable, '-c', code], input=json.dumps([str(f) for f in TEST]), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    probs, loaded = r.stdout.strip().splitlines()
    assert loaded == '[]'
    assert np.abs(np.array(json.loads(probs)) - learner_probs(learn, TEST)).max() < 1e-4


@pytest.mark.slow
def test_windows_of_a_long_file(exported, tmp_path):
    learn, d = exported
    long = np.concatenate([sf.read(f, dtype='float32')[0] for f in TEST[:6]])
    sf.write(tmp_path / 'long.wav', long, 8000)
    m = OnnxModel(d / 'model.onnx')
    ours = list(m.predict_windows(tmp_path / 'long.wav', 0.25, bs=4))
    theirs = list(predict_windows(learn, tmp_path / 'long.wav', 0.25, bs=4))
    assert np.allclose(np.concatenate([s for s, _, _ in ours]), np.concatenate([s for s, _, _ in theirs]))
    assert np.abs(np.concatenate([p for _, _, p in ours]) - torch.cat([p for _, _, p in theirs]).numpy()).max() < 1e-4


@pytest.mark.slow
def test_multi_label(tmp_path):
    learn = learner('mel', multi=True)
    m = OnnxModel(learn.export_onnx(tmp_path / 'm.onnx'))
    assert m.multi_label and m.labels == ['0', '1', '2', '3', 'even', 'odd']
    got, want = m([m.clip(f) for f in TEST]), learner_probs(learn, TEST)
    assert np.abs(got - want).max() < 1e-4 and not np.allclose(got.sum(1), 1)   # sigmoids, one per label


def test_a_transform_it_cannot_write_is_refused(tmp_path):
    from fastai.data.transforms import Transform
    class Mystery(Transform):
        order = 70
        def encodes(self, x): return x
    learn = audio_learner(
        DataBlock(blocks=(AudioBlock(sr=8000, duration=1.0), CategoryBlock), get_items=lambda _: FILES[:40],
                  get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(VALID),
                  batch_tfms=recipe('speech', sr=8000).batch_tfms(augment=False) + [Mystery()]).dataloaders('.', bs=8, num_workers=0),
        SpecCNN, pretrained=False)
    with pytest.raises(ExportError, match='Mystery: a batch transform the ONNX export cannot write'):
        learn.export_onnx(tmp_path / 'm.onnx')
    assert list(tmp_path.iterdir()) == []     # nothing written, not even a temporary file


@pytest.mark.slow
def test_the_command_exports_and_predicts_without_torch(exported, tmp_path):
    learn, d = exported
    run = lambda *a, refuse=False: subprocess.run([sys.executable, '-c', (
        "import importlib.abc, sys\n"
        "class R(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'fastai', 'fastcore', 'matplotlib'): raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, R())\n" if refuse else '') + "import sys; from fastaudio_lite.cli import main; sys.exit(main())", *map(str, a)],
        capture_output=True, text=True)
    r = run('export', d / 'model.pkl', tmp_path / 'cli.onnx')
    assert r.returncode == 0 and 'wrote' in r.stdout, r.stderr[-2000:]
    r = run('export', d / 'model.pkl', tmp_path / 'cli.onnx')
    assert r.returncode == 2 and 'exists: pass --force' in r.stderr
    files = TEST[:8]
    r = run('predict', tmp_path / 'cli.onnx', *files, '--csv', tmp_path / 'onnx.csv', refuse=True)
    assert r.returncode == 0, r.stderr[-2000:]
    r2 = run('predict', d / 'model.pkl', *files, '--csv', tmp_path / 'pkl.csv')
    a, b = list(csv.reader(open(tmp_path / 'onnx.csv'))), list(csv.reader(open(tmp_path / 'pkl.csv')))
    assert a[0] == b[0] == ['file', 'pred', 'prob'] and len(a) == len(b) == 9
    assert [row[:2] for row in a] == [row[:2] for row in b]
    assert all(abs(float(x[2]) - float(y[2])) < 1e-4 for x, y in zip(a[1:], b[1:]))
    (tmp_path / 'not.onnx').write_bytes(b'garbage')
    r = run('predict', tmp_path / 'not.onnx', files[0], refuse=True)
    assert r.returncode == 2 and 'not a model file' in r.stderr and r.stderr.count('\n') == 1


@pytest.mark.slow
def test_hugging_face_models(hf_dirs, tmp_path):
    "wav2vec2 exports within the tolerance; AST's Kaldi features (torch.fft) cannot be written, and the error says so."
    files = [f for f in FILES if f.name[0] in '01'][:40]
    dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=1.0), CategoryBlock), get_items=lambda _: files,
                    get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(VALID)).dataloaders('.', bs=8, num_workers=0)
    learn = audio_learner(dls, str(hf_dirs / 'w2v'))
    m = OnnxModel(learn.export_onnx(tmp_path / 'w2v.onnx'))
    valid = [f for f in files if f.stem.split('_')[2] in ('0', '1', '2')]
    assert np.abs(m([m.clip(f) for f in valid]) - learner_probs(learn, valid)).max() < 1e-4
    with pytest.raises(ExportError, match="HFAudioModel: the ONNX exporter cannot write this model.*fft_rfft"):
        audio_learner(dls, str(hf_dirs / 'ast')).export_onnx(tmp_path / 'ast.onnx')
    assert not (tmp_path / 'ast.onnx').exists()


@pytest.mark.slow
def test_int8(exported, tmp_path):
    "quantize=True writes int8 weights: a smaller file, read by the same predictor, close to the float file's answers."
    import warnings
    learn, d = exported
    with warnings.catch_warnings(record=True):
        q = OnnxModel(learn.export_onnx(tmp_path / 'q.onnx', quantize=True))
    f = OnnxModel(d / 'model.onnx')
    assert (tmp_path / 'q.onnx').stat().st_size < 0.5 * (d / 'model.onnx').stat().st_size
    clips = [f.clip(x) for x in TEST]
    assert np.abs(q(clips) - f(clips)).max() < 0.2 and (q(clips).argmax(1) == f(clips).argmax(1)).mean() > 0.8


class Compress(torch.nn.Module):
    "The module of `PowerLaw`, on plain tensors."
    def __init__(self, exponent):
        super().__init__()
        self.exponent = exponent
    def forward(self, S): return S.clamp(min=1e-10).pow(self.exponent)


class PowerLaw(SpecTransform):
    "A transform defined in this file alone: the spectrogram to a power below 1 (a compression, as the log's)."
    order = 22
    def __init__(self, exponent=0.3):
        super().__init__()
        self.exponent = exponent
    def module(self, x, dft=False): return Compress(self.exponent)
    def encodes(self, x: AudioSpectrogram): return self.module(x)(x)


@pytest.mark.slow
def test_a_new_transform_trains_exports_and_round_trips(tmp_path):
    "A transform is one class in one file: defined here, it trains, goes into the ONNX file and the safe format rebuilds it."
    dls = DataBlock(blocks=(AudioBlock(sr=8000, duration=1.0), CategoryBlock), get_items=lambda _: FILES,
                    get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(VALID),
                    batch_tfms=[MelSpectrogram(n_fft=256, n_mels=32, hop_length=80), PowerLaw(0.25), SpecNormalize()]
                    ).dataloaders('.', bs=16, num_workers=0)
    x = dls.one_batch()[0]
    assert isinstance(x, AudioSpectrogram) and x.n_fft == 256   # its output keeps the spectrogram's settings
    learn = audio_learner(dls, SpecCNN, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    want = learner_probs(learn, TEST)
    m = OnnxModel(learn.export_onnx(tmp_path / 'm.onnx'))
    assert np.abs(m([m.clip(f) for f in TEST]) - want).max() < 1e-4
    learn.export_safe(tmp_path / 'm.safetensors')
    rebuilt = load_audio_learner(tmp_path / 'm.safetensors')
    t = next(t for t in rebuilt.dls.valid.after_batch.fs if isinstance(t, PowerLaw))
    assert t.exponent == 0.25
    assert np.abs(learner_probs(rebuilt, TEST) - want).max() < 1e-5
