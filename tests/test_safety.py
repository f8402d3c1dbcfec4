"Issue 42: model files that cannot run code, outputs two runs cannot clobber, interrupts, odd files, one line per fault."
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

RUN = [sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())']
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1'}


def cli(*args, cwd=None, **kw):
    return subprocess.run([*RUN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=ENV, **kw)


def start(*args, cwd=None):
    "The command in the background, with Ctrl-C live as in a terminal (a shell without job control starts jobs ignoring it)."
    return subprocess.Popen([*RUN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(p, text, limit=120):
    "Lines of `p`'s stdout up to the first that holds `text`."
    t, seen = time.time(), []
    while time.time() - t < limit:
        line = p.stdout.readline()
        if not line and p.poll() is not None: break
        seen.append(line)
        if text in line: return seen
    raise AssertionError(f"{text!r} never printed: {''.join(seen)[-2000:]}")


@pytest.fixture(scope='module')
def data(fsdd, tmp_path_factory):
    "Two classes whose names a spreadsheet would run ('=one', '-two'): 20 FSDD files each."
    d = tmp_path_factory.mktemp('data')
    for label, digit in (('=one', '1'), ('-two', '2')):
        (d / label).mkdir()
        for f in sorted(fsdd.glob(f'{digit}_*.wav'))[:20]: (d / label / f.name).write_bytes(f.read_bytes())
    return d


@pytest.fixture(scope='module')
def model(data, tmp_path_factory):
    out = tmp_path_factory.mktemp('model')
    r = cli('train', data, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 2, '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'model.safetensors' in json.loads((out / 'metrics.json').read_text())['outputs']
    return out


NO_PICKLE = '''
import pickle, sys, torch
import fastaudio_lite.all, fastaudio_lite.cli
def refuse(*a, **k): raise AssertionError('pickle used')
class Refuse(pickle.Unpickler):
    def __init__(self, *a, **k): refuse()
pickle.loads = pickle.load = torch.load = refuse
pickle.Unpickler = Refuse
from fastaudio_lite.cli import main
sys.exit(main())
'''


@pytest.mark.slow
def test_safe_model_predicts_as_the_pickle_without_pickle(model, data, tmp_path):
    files = sorted(data.rglob('*.wav'))[::4]
    pkl = cli('predict', model / 'model.pkl', *files, '--csv', tmp_path / 'pkl.csv')
    safe = subprocess.run([sys.executable, '-c', NO_PICKLE, 'predict', model / 'model.safetensors', *files, '--csv', tmp_path / 'safe.csv'],
                          capture_output=True, text=True, env=ENV)
    assert pkl.returncode == 0 and safe.returncode == 0, safe.stderr[-2000:]
    assert 'is a pickle: loading it runs any code it names' in pkl.stderr and 'pickle' not in safe.stderr
    a, b = (list(csv.reader(open(tmp_path / f, encoding='utf-8'))) for f in ('pkl.csv', 'safe.csv'))
    assert [r[:2] for r in a] == [r[:2] for r in b]
    assert np.allclose([float(r[2]) for r in a[1:]], [float(r[2]) for r in b[1:]], atol=1e-5)
    # the command converts a pickle it trusts into the safe form
    r = cli('export', model / 'model.pkl', tmp_path / 'again.safetensors')
    assert r.returncode == 0 and (tmp_path / 'again.safetensors').stat().st_size > 0, r.stderr


def test_a_pickle_payload_is_named_before_it_runs(tmp_path):
    marker = tmp_path / 'ran'
    class Payload:
        def __reduce__(self): return (exec, (f"open({str(marker)!r}, 'w').close()",))
    import torch
    torch.save({'x': Payload()}, tmp_path / 'model.pkl')
    r = cli('predict', tmp_path / 'model.pkl', tmp_path / 'a.wav')
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith('warning: ') and 'is a pickle: loading it runs any code it names' in lines[0]
    assert r.returncode == 2 and len(lines) == 2 and 'cannot be loaded as a model' in lines[1], r.stderr
    assert marker.exists()   # it ran: the warning is the only defence a pickle has, so it is never silenced


def test_a_foreign_learner_is_refused(tmp_path):
    import pandas as pd
    from fastai.tabular.all import TabularDataLoaders, tabular_learner
    df = pd.DataFrame({'a': np.linspace(0, 1, 32), 'y': np.linspace(1, 0, 32)})
    tabular_learner(TabularDataLoaders.from_df(df, cont_names=['a'], y_names='y', bs=8)).export(tmp_path / 'model.pkl')
    sf.write(tmp_path / 'a.wav', np.zeros(800, np.float32), 8000)
    r = cli('predict', tmp_path / 'model.pkl', tmp_path / 'a.wav')
    errors = [l for l in r.stderr.strip().splitlines() if not l.startswith('warning: ')]
    assert r.returncode == 2 and len(errors) == 1 and 'not of audio files' in errors[0], r.stderr


@pytest.mark.slow
def test_two_trainings_into_one_folder(data, tmp_path):
    "The first run holds --out: a second is refused at once, with --force too; Ctrl-C then stops the first with one line."
    out = tmp_path / 'out'
    first = start('train', data, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 200, '--out', out)
    wait_for(first, 'train_loss')
    for force in ([], ['--force']):
        second = cli('train', data, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 1, '--out', out, *force)
        assert second.returncode == 2 and 'another run is writing to it' in second.stderr and len(second.stderr.strip().splitlines()) == 1, second.stderr
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and err.strip().splitlines()[-1] == 'fastaudio-lite train: interrupted' and 'Traceback' not in err, err[-2000:]
    assert sorted(p.name for p in out.iterdir()) == []   # nothing half-written, and the claim gone


def test_predicting_starts_no_processes(model, data):
    """The clips are in memory: a loader process per batch would cost a fork each time, and a Ctrl-C that lands in
    fork's handlers is swallowed (the predict command then ran on)."""
    import os
    from fastaudio_lite.inference import predict_files
    from fastaudio_lite.safe import load_audio_learner
    learn, forks = load_audio_learner(model / 'model.safetensors'), []
    os.register_at_fork(after_in_parent=lambda: forks.append(1))
    rows = list(predict_files(learn, sorted(data.rglob('*.wav'))[:24], bs=8))
    assert len(rows) == 24 and all(r.error is None for r in rows) and forks == []


@pytest.mark.slow
def test_two_predictions_onto_one_csv_and_ctrl_c(model, fsdd, tmp_path):
    files = sorted(fsdd.glob('*.wav')) * 12   # more than a loaded machine predicts before the second run has started
    first = start('predict', model / 'model.safetensors', *files, '--csv', tmp_path / 'p.csv', '--bs', 8)
    seen = wait_for(first, '.wav\t')
    second = cli('predict', model / 'model.safetensors', files[0], '--csv', tmp_path / 'p.csv')
    assert second.returncode == 2 and 'another run is writing it' in second.stderr, second.stderr
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130 and err.strip().splitlines()[-1] == 'fastaudio-lite predict: interrupted', err[-2000:]
    assert 'Traceback' not in err
    rows = list(csv.reader(open(tmp_path / 'p.csv', encoding='utf-8')))
    printed = sum('.wav\t' in l for l in seen) + out.count('.wav\t')
    assert rows[0] == ['file', 'pred', 'prob'] and len(rows) - 1 >= printed > 0   # every row printed is in the file


@pytest.mark.slow
def test_ctrl_c_in_training_keeps_the_earlier_run(model, data, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    for f in ('model.pkl', 'model.safetensors', 'metrics.json', 'confusion.png'): (out / f).write_bytes((model / f).read_bytes())
    p = start('train', data, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 30, '--out', out, '--force')
    wait_for(p, 'train_loss')
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.strip().splitlines()[-1] == 'fastaudio-lite train: interrupted' and 'Traceback' not in err, err[-2000:]
    for f in ('model.pkl', 'model.safetensors', 'metrics.json'): assert (out / f).read_bytes() == (model / f).read_bytes()


@pytest.mark.slow
def test_odd_files(model, data, tmp_path):
    "A FIFO is skipped unopened, absurd samples are refused, names a spreadsheet would run are quoted, non-UTF-8 names escaped."
    d = tmp_path / 'files'
    d.mkdir()
    good = sorted(data.rglob('*.wav'))[0]
    (d / '=HYPERLINK(1).wav').write_bytes(good.read_bytes())
    (d / os.fsdecode(b'\xff\xfe.wav')).write_bytes(good.read_bytes())
    sf.write(d / 'huge.wav', np.full(8000, 1e20, np.float32), 8000, subtype='FLOAT')
    os.mkfifo(d / 'fifo.wav')
    names = ['=HYPERLINK(1).wav', os.fsdecode(b'\xff\xfe.wav'), 'huge.wav', 'fifo.wav']
    r = cli('predict', model / 'model.safetensors', *names, '--csv', tmp_path / 'p.csv', cwd=d, timeout=120, errors='surrogateescape')
    assert r.returncode == 1, r.stderr
    assert 'fifo.wav\terror: not a regular file (a FIFO)' in r.stderr and 'huge.wav\terror: samples up to 1e+20' in r.stderr
    assert 'nan' not in r.stdout
    raw = (tmp_path / 'p.csv').read_bytes()
    raw.decode('utf-8')   # valid UTF-8
    rows = list(csv.reader(open(tmp_path / 'p.csv', encoding='utf-8')))
    names = sorted(r[0] for r in rows[1:])
    assert names == ["'=HYPERLINK(1).wav", "\\udcff\\udcfe.wav"], names
    assert all(r[1] in ("'=one", "'-two") for r in rows[1:]), rows   # labels a spreadsheet would run, quoted


@pytest.mark.slow
def test_a_fifo_among_training_files(data, tmp_path):
    d = tmp_path / 'data'
    for sub in ('=one', '-two'):
        (d / sub).mkdir(parents=True)
        for f in sorted((data / sub).glob('*.wav'))[:8]: (d / sub / f.name).write_bytes(f.read_bytes())
    os.mkfifo(d / '=one' / 'fifo.wav')
    r = cli('train', d, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 1, '--bs', 4, '--out', tmp_path / 'out', timeout=300)
    assert r.returncode == 0 and 'fifo.wav: not a regular file (a FIFO)' in r.stderr, r.stderr[-2000:]


def test_streaming_wav_and_short_file_windows(model, tmp_path):
    import struct
    x = (np.sin(np.arange(4000) / 5) * 0.3).astype(np.float32)
    sf.write(tmp_path / 'plain.wav', x, 8000, subtype='PCM_16')
    b = bytearray((tmp_path / 'plain.wav').read_bytes())
    b[4:8] = struct.pack('<I', 0xFFFFFFFF)
    i = b.find(b'data'); b[i + 4:i + 8] = struct.pack('<I', 0xFFFFFFFF)
    (tmp_path / 'stream.wav').write_bytes(b)
    r = cli('predict', model / 'model.safetensors', tmp_path / 'plain.wav', tmp_path / 'stream.wav', '--windows')
    assert r.returncode == 0, r.stderr
    rows = [l.split('\t') for l in r.stdout.strip().splitlines()]
    assert [(row[1], row[2]) for row in rows] == [('0.000', '0.500')] * 2   # 0.5 s files: the window ends where they end
    assert rows[0][3:] == rows[1][3:]


def test_mp3_windows_keep_decoder_chatter_off_stderr(model, fsdd, tmp_path):
    "mpg123 prints the frames it recovers after each seek; a window-by-window read of an MP3 keeps them off stderr."
    x = np.concatenate([sf.read(f, dtype='float32')[0] for f in sorted(fsdd.glob('3_*.wav'))[:30]])
    sf.write(tmp_path / 'long.mp3', x, 8000, format='MP3')
    r = cli('predict', model / 'model.safetensors', tmp_path / 'long.mp3', '--windows', '--hop', '0.25')
    assert r.returncode == 0 and r.stderr == '', r.stderr[-2000:]
    assert len(r.stdout.strip().splitlines()) > 40


@pytest.mark.slow
def test_a_file_that_vanishes_during_training(data, tmp_path):
    d = tmp_path / 'data'
    for sub in ('=one', '-two'):
        (d / sub).mkdir(parents=True)
        for f in sorted((data / sub).glob('*.wav')): (d / sub / f.name).write_bytes(f.read_bytes())
    p = start('train', d, '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 200, '--bs', 4, '--valid-pct', '0.2', '--out', tmp_path / 'out')
    wait_for(p, 'train_loss')
    for f in (d / '=one').glob('*.wav'): f.unlink()
    _, err = p.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and 'no such file (it changed or went away during the run)' in lines[0], err[-2000:]
