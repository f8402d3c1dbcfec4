"""The toughest user's probes of model files, outputs, events, tables, windows and the page, one test a row: no code runs
from a model file, nothing the user has is overwritten, nothing wrong is reported as success, and each refusal is one
line with its exit code."""
import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import FSDD, SR, noise, tone, tone_learner

import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
import fastaudio_lite.safe  # noqa: F401 (learn.export_safe)

CODE = 'import sys; from fastaudio_lite.cli import main; sys.exit(main())'


def cli(*args, **kw):
    return subprocess.run([sys.executable, '-c', CODE, *map(str, args)], capture_output=True, text=True, timeout=600, **kw)


def refused(r, says, code=2):
    "The run ended with `code` and said `says` in one line on stderr (warnings aside), without a traceback."
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith('warning: ')]
    assert r.returncode == code and len(lines) == 1 and 'Traceback' not in r.stderr and says in lines[0], (r.returncode, r.stderr[-2000:])
    return lines[0]


def clip(path, freq=2000, secs=0.5, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    n = int(secs * SR)
    x = noise(n, rng) + (tone(freq, n, rng) if freq else 0)
    sf.write(path, np.stack([x * (1 - 0.3 * c) for c in range(channels)], 1).astype(np.float32), SR)
    return path


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "The tone learner as model.pkl, model.safetensors and model.onnx, and a clip of each of its classes."
    d = tmp_path_factory.mktemp('models')
    learn = tone_learner(d)
    learn.export(d / 'model.pkl')
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')
    clip(d / 'high.wav', 2000), clip(d / 'low.wav', 500, seed=1)
    return d


class Payload:
    "A pickle that creates `marker` when it is unpickled."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


def test_a_pickle_under_another_name_runs_nothing(models, tmp_path):
    marker = tmp_path / 'ran'
    (tmp_path / 'evil.onnx').write_bytes(pickle.dumps(Payload(marker)))
    torch.save(Payload(marker), tmp_path / 'evil.safetensors')   # torch.save's zip of a pickle
    (tmp_path / 'evil.bin').write_bytes(pickle.dumps(Payload(marker), protocol=2))
    for evil in ('evil.onnx', 'evil.safetensors', 'evil.bin'):
        for args in (('export', tmp_path / evil, tmp_path / 'out.safetensors'), ('predict', tmp_path / evil, models / 'high.wav'),
                     ('space', tmp_path / evil, tmp_path / 'space'), ('serve', tmp_path / evil)):
            line = refused(cli(*args), 'a pickle')
            assert 'refused unread' in line and not marker.exists(), (args, line)
    assert not (tmp_path / 'out.safetensors').exists() and not (tmp_path / 'space').exists()


def test_outputs_never_replace_a_model_an_input_or_another_kind_of_file(models, tmp_path):
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'model.pkl').write_bytes((models / 'model.pkl').read_bytes())
    before = (other / 'model.pkl').read_bytes()
    refused(cli('predict', models / 'model.onnx', models / 'high.wav', '--csv', other / 'model.pkl'), 'holds a model (pickle)')
    refused(cli('predict', models / 'model.onnx', models / 'high.wav', '--csv', other / 'model.pkl', '--force'), 'holds a model')
    assert (other / 'model.pkl').read_bytes() == before
    (tmp_path / 'notes.txt').write_text('mine\n')
    refused(cli('predict', models / 'model.onnx', models / 'high.wav', '--csv', tmp_path / 'notes.txt'), 'pass --force')
    assert (tmp_path / 'notes.txt').read_text() == 'mine\n'
    r = cli('predict', models / 'model.onnx', models / 'high.wav', '--csv', tmp_path / 'notes.txt', '--force')
    assert r.returncode == 0 and (tmp_path / 'notes.txt').read_text().startswith('file,pred,prob'), r.stderr
    refused(cli('predict', models / 'model.onnx', models / 'high.wav', '--csv', models / 'high.wav', '--force'), 'one of the files to predict')
    # evaluate-events never writes its JSON over a table it reads
    (tmp_path / 'pred.csv').write_text('file,label,onset_s,offset_s,peak,mean\nrec.wav,dog,1.000,2.000,0.9,0.8\n')
    (tmp_path / 'rec.txt').write_text('1.0\t2.0\tdog\n')   # an Audacity track of rec.wav
    before = (tmp_path / 'pred.csv').read_text()
    refused(cli('evaluate-events', tmp_path / 'pred.csv', tmp_path / 'rec.txt', '--json', tmp_path / 'pred.csv', '--force'), 'a table being scored')
    assert (tmp_path / 'pred.csv').read_text() == before
    r = cli('evaluate-events', tmp_path / 'pred.csv', tmp_path / 'rec.txt', '--json', tmp_path / 'scores.json')
    assert r.returncode == 0 and json.loads((tmp_path / 'scores.json').read_text())['event']['f1'] == 1.0, r.stderr
    # model files are shared: written with the mode of any new file, as metrics.json and the CSV are
    mask = os.umask(0o022); os.umask(mask)
    for out in ('m.safetensors', 'm.onnx'):
        r = cli('export', models / 'model.pkl', tmp_path / out)
        assert r.returncode == 0, r.stderr
        assert oct((tmp_path / out).stat().st_mode & 0o777) == oct(0o666 & ~mask) == oct((tmp_path / 'notes.txt').stat().st_mode & 0o777)
    refused(cli('export', models / 'model.pkl', tmp_path / 'm.onnx'), 'pass --force')


def test_events_are_matched_by_the_recordings_path(tmp_path):
    (tmp_path / 'pred.csv').write_text('file,label,onset_s,offset_s,peak,mean\nsiteA/rec.wav,dog,1.000,2.000,0.9,0.8\n')
    (tmp_path / 'ref.csv').write_text('file,label,onset_s,offset_s,peak,mean\nsiteB/rec.wav,dog,1.000,2.000,,\n')
    refused(cli('evaluate-events', tmp_path / 'pred.csv', tmp_path / 'ref.csv'), 'no recording is in both tables')
    # a folder of Audacity tracks: each names the recording at its path in the folder
    (tmp_path / 'ref' / 'siteA').mkdir(parents=True)
    (tmp_path / 'ref' / 'siteB').mkdir()
    (tmp_path / 'ref' / 'siteA' / 'rec.txt').write_text('1.0\t2.0\tdog\n')
    (tmp_path / 'ref' / 'siteB' / 'rec.txt').write_text('5.0\t6.0\tdog\n')
    r = cli('evaluate-events', tmp_path / 'pred.csv', tmp_path / 'ref', '--json', tmp_path / 'm.json')
    m = json.loads((tmp_path / 'm.json').read_text())['event']
    assert r.returncode == 0 and (m['tp'], m['fp'], m['fn']) == (1, 0, 1), r.stderr
    # paths written from another folder: --root says where they are relative to
    (tmp_path / 'abs.csv').write_text(f'file,label,onset_s,offset_s,peak,mean\n{tmp_path}/data/siteA/rec.wav,dog,1.000,2.000,0.9,0.8\n')
    r = cli('evaluate-events', tmp_path / 'abs.csv', tmp_path / 'ref', '--root', tmp_path / 'data', '--json', tmp_path / 'm.json')
    assert r.returncode == 0 and json.loads((tmp_path / 'm.json').read_text())['event']['tp'] == 1, r.stderr
    # a bare name that could be either recording is refused
    (tmp_path / 'two.csv').write_text('file,label,onset_s,offset_s,peak,mean\nsiteA/rec.wav,dog,1,2,,\nsiteB/rec.wav,dog,5,6,,\n')
    (tmp_path / 'rec.txt').write_text('1.0\t2.0\tdog\n')
    refused(cli('evaluate-events', tmp_path / 'two.csv', tmp_path / 'rec.txt'), 'could be the recording')
    # thousands of events of a class, and one at 10^12 s: scored, in bounded memory
    rows = ''.join(f'r.wav,dog,{i * 0.1:.3f},{i * 0.1 + 0.05:.3f},,\n' for i in range(1500))
    (tmp_path / 'many.csv').write_text('file,label,onset_s,offset_s,peak,mean\n' + rows)
    (tmp_path / 'far.csv').write_text('file,label,onset_s,offset_s,peak,mean\nr.wav,dog,1000000000000,1000000000001,,\n' + rows)
    r = cli('evaluate-events', tmp_path / 'many.csv', tmp_path / 'far.csv')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr[-2000:]


@pytest.mark.parametrize('fmt', ['pkl', 'safetensors', 'onnx'])
def test_windows_longer_than_the_clip_and_absurd_hops_are_refused(models, fmt):
    model = models / f'model.{fmt}'
    refused(cli('predict', model, models / 'high.wav', '--windows', '--window', '5'), "longer than the model's 0.5 s clip")
    refused(cli('predict', model, models / 'high.wav', '--windows', '--window', '1e9'), 'longer than')
    refused(cli('predict', model, models / 'high.wav', '--events', '--hop', '1e-300'), '--hop')
    r = cli('predict', model, models / 'high.wav', '--windows', '--window', '0.5', '--hop', '0.25')
    assert r.returncode == 0 and r.stdout.split('\t')[3] == 'high', r.stderr


def _safe_copy(src, dest, change=None, tensors=None):
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(src), framework='pt') as f:
        meta, ts = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    d = json.loads(meta['fastaudio_lite'])
    text = change(d) if change else json.dumps(d)
    save_file(tensors(ts) if tensors else ts, str(dest), metadata={'fastaudio_lite': text if isinstance(text, str) else json.dumps(text)})
    return dest


def _onnx_copy(src, dest, **meta):
    import onnx
    m = onnx.load(str(src))
    for p in m.metadata_props:
        if p.key in meta: p.value = meta[p.key]
    onnx.save(m, str(dest))
    return dest


def test_bad_model_descriptions_are_one_line(models, tmp_path):
    wav = models / 'high.wav'
    safe = models / 'model.safetensors'
    cases = [
        (_safe_copy(safe, tmp_path / 'list.safetensors', lambda d: [d]), 'a JSON object'),
        (_safe_copy(safe, tmp_path / 'str.safetensors', lambda d: {**d, 'audio': 'x'}), 'audio must be'),
        (_safe_copy(safe, tmp_path / 'deep.safetensors', lambda d: '[' * 100000 + ']' * 100000), 'not JSON'),
        (_safe_copy(safe, tmp_path / 'long.safetensors', lambda d: {**d, 'audio': {**d['audio'], 'duration': 1e7}}), 'n_samples'),
        (_safe_copy(safe, tmp_path / 'dup.safetensors', lambda d: {**d, 'labels': ['a', 'a', 'b']}), 'twice'),
        (_safe_copy(safe, tmp_path / 'four.safetensors', lambda d: {**d, 'labels': ['a', 'b', 'c', 'd']}), 'do not fit'),
        (_safe_copy(safe, tmp_path / 'nan.safetensors', tensors=lambda ts: {k: v * float('nan') if v.is_floating_point() else v for k, v in ts.items()}), 'NaN'),
        (_onnx_copy(models / 'model.onnx', tmp_path / 'notjson.onnx', labels='[not json'), 'labels are not JSON'),
        (_onnx_copy(models / 'model.onnx', tmp_path / 'four.onnx', labels='["a", "b", "c", "d"]'), "4 of them for the model's 3 outputs"),
        (_onnx_copy(models / 'model.onnx', tmp_path / 'dup.onnx', labels='["a", "a", "b"]'), 'twice'),
        (_onnx_copy(models / 'model.onnx', tmp_path / 'sr.onnx', sr='fast'), 'sr must be'),
        (_onnx_copy(models / 'model.onnx', tmp_path / 'n.onnx', n_samples='1e11'), 'n_samples must be'),
    ]
    for model, says in cases:
        refused(cli('predict', model, wav), says)
    # a safetensors model needs torch: one line that says so, not a traceback
    (tmp_path / 'block').mkdir()
    (tmp_path / 'block' / 'sitecustomize.py').write_text(
        "import importlib.abc, sys\nclass R(importlib.abc.MetaPathFinder):\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'fastai'): raise ModuleNotFoundError(name, name=name)\nsys.meta_path.insert(0, R())\n")
    r = cli('predict', safe, wav, env={**os.environ, 'PYTHONPATH': str(tmp_path / 'block')})
    refused(r, 'needs torch and fastai')


def _stereo_models(d):
    "A two-channel SpecCNN of the tones, as model.pkl, model.safetensors and model.onnx in `d`."
    from fastai.data.all import CategoryBlock, DataBlock
    from fastaudio_lite.data import AudioBlock, RegexSplitter
    from fastaudio_lite.learner import audio_learner
    from fastaudio_lite.nets import SpecCNN
    from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB
    files = [clip(d / f'{lab}_{i}.wav', f, channels=2, seed=i) for lab, f in (('low', 500), ('high', 2000)) for i in range(12)]
    dls = DataBlock(blocks=(AudioBlock(sr=SR, duration=0.5, mono=False), CategoryBlock), get_items=lambda _: files,
                    get_y=lambda f: f.name.split('_')[0], splitter=RegexSplitter(r'_1\d\.wav$'),
                    batch_tfms=[MelSpectrogram(n_fft=256, hop_length=64, n_mels=32), ToDB(), SpecNormalize()]).dataloaders('.', bs=8, num_workers=0)
    learn = audio_learner(dls, SpecCNN, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 3e-3)
    learn.export(d / 'model.pkl')
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')


def test_a_stereo_model_names_a_mono_file_and_predicts_the_others(tmp_path):
    _stereo_models(tmp_path)
    mono, a, b = clip(tmp_path / 'mono.wav', 500, seed=9), tmp_path / 'low_0.wav', tmp_path / 'high_0.wav'
    for fmt in ('pkl', 'safetensors', 'onnx'):
        for order in ([mono, a, b], [a, mono, b]):
            r = cli('predict', tmp_path / f'model.{fmt}', *order)
            assert r.returncode == 1 and 'Traceback' not in r.stderr, (fmt, r.stderr[-2000:])
            assert 'mono.wav\terror: 1 channel(s), and the model takes 2' in r.stderr, (fmt, r.stderr)
            assert [l.split('\t')[0] for l in r.stdout.splitlines()] == [str(a), str(b)], (fmt, r.stdout)


def test_table_rows_outside_data_are_refused_unless_allowed(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    for i, f in enumerate(sorted(FSDD.glob('[01]_george_*.wav'))[:8]): (data / f.name).symlink_to(f)
    (tmp_path / 'outside.wav').symlink_to(sorted(FSDD.glob('1_jackson_*.wav'))[0])
    rows = ''.join(f'{f.name},{f.name[0]},{1 + i % 2}\n' for i, f in enumerate(sorted(data.iterdir())))
    for cell in ('../outside.wav', '/etc/hostname'):
        (tmp_path / 't.csv').write_text('file,label,fold\n' + rows + f'{cell},1,1\n')
        refused(cli('train', data, '--labels', tmp_path / 't.csv', '--out', tmp_path / 'out'), f'row 10: {cell} leads outside')
    assert not (tmp_path / 'out' / 'model.pkl').exists()


@pytest.mark.slow
def test_cv_resumes_only_the_same_table_and_a_failed_start_blocks_nothing(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    files = sorted(f for f in FSDD.glob('[01]_*.wav') if f.name.split('_')[1] in ('george', 'jackson', 'lucas', 'nicolas'))
    for f in files: (data / f.name).symlink_to(f)
    table = 'file,label,group\n' + ''.join(f"{f.name},{f.name[0]},{f.name.split('_')[1]}\n" for f in files)
    (tmp_path / 't.csv').write_text(table)
    fast = ['--arch', 'SpecCNN', '--epochs', '1', '--bs', '8', '--sr', '8000', '--no-augment', '--out', tmp_path / 'cv']
    refused(cli('cv', data, '--labels', tmp_path / 't.csv', '--k', '7', *fast), 'cannot make 7 folds')   # four groups cannot make 7 folds
    r = cli('cv', data, '--labels', tmp_path / 't.csv', '--k', '2', '--folds', '1', *fast)
    assert r.returncode == 0, r.stderr[-2000:]
    (tmp_path / 't.csv').write_text(table.replace(',0,', ',1,', 3))   # the same path, other labels
    refused(cli('cv', data, '--labels', tmp_path / 't.csv', '--k', '2', '--folds', '1,2', *fast), 'other settings')


def test_sigterm_prints_its_line_and_keeps_every_row(models, tmp_path):
    wavs = tmp_path / 'wavs'
    wavs.mkdir()
    for i in range(3000): (wavs / f'{i:04d}.wav').symlink_to(models / 'high.wav')
    p = subprocess.Popen([sys.executable, '-c', CODE, 'predict', str(models / 'model.onnx'), str(wavs), '--bs', '1', '--csv', str(tmp_path / 'p.csv')],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.readline()   # it has started predicting
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143 and 'terminated (SIGTERM)' in err, (p.returncode, err[-2000:])
    rows = (tmp_path / 'p.csv').read_text().splitlines()
    assert rows[0] == 'file,pred,prob' and len(rows) - 1 >= 1 + len(out.splitlines()) - 1 and len(rows) < 3001


def test_the_page_reads_the_header_before_it_decodes(tmp_path):
    from fastaudio_lite.serve import Refused, check_recording, max_samples
    x = np.zeros((96_000 * 3, 8), np.float32)
    x[::1000] = 0.1
    sf.write(tmp_path / 'wide.flac', x, 96_000)   # 3 s, 8 channels at 96 kHz: small on disk, 2.3 M samples
    with pytest.raises(Refused, match='8 channels at 96000 Hz'): check_recording(tmp_path / 'wide.flac', 20, 10)
    assert max_samples(10) < 2_304_000 <= max_samples(600)
    (tmp_path / 'junk.wav').write_bytes(b'RIFF\x24\x00\x00\x00WAVEjunk' * 20)
    with pytest.raises(Refused) as e: check_recording(tmp_path / 'junk.wav')
    assert str(e.value).startswith('junk.wav: cannot be decoded') and str(tmp_path) not in str(e.value)
