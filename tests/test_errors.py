"""Nothing lost, nothing silently wrong: a cache that checks itself, a loss that turns NaN, atomic outputs that never
clobber unasked, up-front checks, and one line (never a traceback) with a documented exit code for every user error."""
import csv
import os
import resource
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import FSDD

from fastaudio_lite.core import WaveCache

CODE = 'import sys; from fastaudio_lite.cli import main; sys.exit(main())'


def cli(*args, **kw):
    return subprocess.run([sys.executable, '-c', CODE, *map(str, args)], capture_output=True, text=True, timeout=600, **kw)


def one_line(r):
    "The one error line of `r` (warnings, such as the one that a pickle runs code, may come before it)."
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith('warning: ')]
    assert len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "Two digits, two speakers: 32 files in a folder per label."
    d = tmp_path_factory.mktemp('data')
    for digit in '01':
        (d / digit).mkdir()
        for f in sorted(FSDD.glob(f'{digit}_[gj]*.wav')): (d / digit / f.name).symlink_to(f)
    return d


TRAIN = ['--arch', 'SpecCNN', '--epochs', '1', '--bs', '8', '--sr', '8000', '--valid-re', r'_[0-2]\.wav$']


@pytest.fixture(scope='module')
def model(data, tmp_path_factory):
    out = tmp_path_factory.mktemp('model')
    r = cli('train', data, *TRAIN, '--out', out, '--force')
    assert r.returncode == 0, r.stderr[-2000:]
    return out / 'model.pkl'


# --- the cache ---

def test_a_damaged_cache_entry_is_decoded_again(tmp_path):
    f = tmp_path / 'a.wav'
    sf.write(f, np.sin(np.arange(8000) / 5).astype(np.float32) * 0.5, 8000)
    cache = WaveCache(tmp_path / 'cache', sr=8000, dtype='float32')
    good = cache.get(f)
    entry = cache.entry(f)
    raw = bytearray(entry.read_bytes())
    raw[16 + 400:16 + 404] = np.float32(np.nan).tobytes()          # a NaN sample in the middle
    entry.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match='damaged.*NaN'):
        again = cache.get(f)
    np.testing.assert_array_equal(again, good)
    assert np.isfinite(np.frombuffer(entry.read_bytes()[16:], np.float32)).all()   # rewritten
    entry.write_bytes(entry.read_bytes()[:-40])                      # cut short
    with pytest.warns(UserWarning, match='wrong length'):
        np.testing.assert_array_equal(cache.get(f), good)


def test_a_file_changed_size_for_size_with_its_mtime_restored_is_decoded_again(tmp_path):
    f = tmp_path / 'a.wav'
    sf.write(f, np.full(4000, 0.25, np.float32), 8000, subtype='FLOAT')
    cache = WaveCache(tmp_path / 'cache', sr=8000, dtype='float32')
    assert cache.get(f).max() == pytest.approx(0.25)
    st = os.stat(f)
    time.sleep(0.01)
    sf.write(f, np.full(4000, -0.5, np.float32), 8000, subtype='FLOAT')
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))                 # as sync and restore tools do
    assert os.stat(f).st_size == st.st_size and os.stat(f).st_mtime_ns == st.st_mtime_ns
    assert cache.get(f).max() == pytest.approx(-0.5)


# --- training that goes wrong ---

def test_a_nan_loss_stops_the_fit_in_a_notebook():
    from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
    from fastaudio_lite.data import AudioBlock, NameLabeller
    from fastaudio_lite.callbacks import NonFiniteLoss, StopOnNonFinite
    from fastaudio_lite.learner import audio_learner
    files = sorted(FSDD.glob('[01]_george_*.wav'))
    dls = DataBlock(blocks=(AudioBlock(sr=8000, duration=0.5), CategoryBlock), get_items=lambda _: files,
                    get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0)).dataloaders('.', bs=4, num_workers=0)
    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__(); self.lin = torch.nn.Conv1d(1, 2, 1)
        def forward(self, x): return self.lin(x).mean(-1) * float('nan')
    learn = audio_learner(dls, Broken(), cbs=StopOnNonFinite())
    with pytest.raises(NonFiniteLoss, match='epoch 1, step 1'): learn.fit(1, 1e-3)


def test_the_command_stops_on_a_nan_loss_and_writes_nothing(data, tmp_path):
    r = cli('train', data, *TRAIN, '--lr', '1e30', '--no-augment', '--out', tmp_path / 'out')
    assert r.returncode == 3, (r.returncode, r.stderr[-2000:])
    assert 'loss is' in one_line(r) and 'nothing was written' in r.stderr
    assert not list((tmp_path / 'out').iterdir())


# --- outputs ---

def test_an_earlier_model_is_kept_unless_forced(data, model):
    before = model.read_bytes()
    t = time.time()
    r = cli('train', data, *TRAIN, '--out', model.parent)
    assert r.returncode == 2 and '--force' in one_line(r) and 'model.pkl' in r.stderr
    assert 'epoch' not in r.stdout and model.read_bytes() == before    # refused before training


def test_an_out_that_cannot_be_written_is_found_before_training(data, tmp_path):
    (tmp_path / 'file').write_text('x')
    r = cli('train', data, *TRAIN, '--out', tmp_path / 'file' / 'out')
    assert r.returncode == 2 and 'cannot be written' in one_line(r) and 'epoch' not in r.stdout


def _limit_writes():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)                      # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a tmpfs of `kb` kB where the tests may (as root) and returns it, else returns None: the test then limits
    the file size instead."""
    mounted = []
    def mount(kb):
        d = tmp_path / 'disk'
        d.mkdir()
        if os.geteuid() != 0: return None
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={kb}k', 'tmpfs', str(d)], capture_output=True)
        if r.returncode: return None
        mounted.append(d)
        return d
    yield mount
    for d in mounted: subprocess.run(['umount', str(d)], check=True)


def test_a_full_disk_leaves_the_earlier_outputs(data, model, small_disk):
    "The disk fills while the new model is written: the earlier run's outputs stay whole, nothing half-written is left."
    earlier = {p.name: p.read_bytes() for p in model.parent.iterdir()}
    assert set(earlier) == {'model.pkl', 'model.safetensors', 'metrics.json', 'confusion.png'}
    # room for the earlier outputs and half a model more
    disk = small_disk((sum(map(len, earlier.values())) + len(earlier['model.pkl']) // 2) // 1024)
    if disk is None:                                         # no tmpfs: a file size limit of 4 KiB fails the write alike
        out, how = model.parent, dict(preexec_fn=_limit_writes)
    else:
        out, how = disk / 'out', {}
        out.mkdir()
        for name, b in earlier.items(): (out / name).write_bytes(b)
    r = subprocess.run([sys.executable, '-c', CODE, 'train', str(data), *TRAIN, '--out', str(out), '--force'],
                       capture_output=True, text=True, timeout=600, **how)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'cannot be written' in one_line(r) and 'earlier outputs are unchanged' in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier  # nothing half-written, no temporary files left
    if disk is not None:                                     # and into a new folder on it: nothing at all
        r = cli('train', data, *TRAIN, '--out', disk / 'new')
        assert r.returncode == 2 and 'cannot be written' in one_line(r)
        assert list((disk / 'new').iterdir()) == []


# --- up-front checks ---

def test_a_label_only_in_validation_is_named_before_training(tmp_path):
    d = tmp_path / 'data'
    for digit in '012':
        (d / digit).mkdir(parents=True)
        files = sorted(FSDD.glob(f'{digit}_george_*.wav'))
        if digit == '2': files = [f for f in files if f.stem.endswith(('_0', '_1', '_2'))]   # validation files only
        for f in files: (d / digit / f.name).symlink_to(f)
    r = cli('train', d, *TRAIN, '--out', tmp_path / 'out')
    assert r.returncode == 2 and 'only in the validation set' in one_line(r) and ': 2;' in r.stderr, r.stderr
    assert 'epoch' not in r.stdout


@pytest.mark.parametrize('args,says', [(['--sr', '0'], '--sr'), (['--duration', '0'], '--duration'),
                                       (['--duration', '-1'], '--duration'), (['--bs', '0'], '--bs')])
def test_train_arguments_that_make_no_sense(data, tmp_path, args, says):
    r = cli('train', data, '--out', tmp_path / 'out', *args)
    assert r.returncode == 2 and says in one_line(r)


# --- predict ---

def test_predict_arguments_and_model_files(model, tmp_path):
    wav = sorted(FSDD.glob('0_george_*.wav'))[0]
    cases = {'--topk': ['--topk', '-1'], 'does not exist': ['--csv', tmp_path / 'missing' / 'x.csv'],
             '--hop': ['--windows', '--hop', '-1'], '--bs': ['--bs', '0']}
    for says, extra in cases.items():
        r = cli('predict', model, wav, *extra)
        assert r.returncode == 2 and says in one_line(r), (says, r.stderr)
    (tmp_path / 'text.pkl').write_text('not a model')
    torch.save({'a': 1}, tmp_path / 'dict.pkl')                       # a pickled dict, as torch writes it
    (tmp_path / 'cut.pkl').write_bytes(model.read_bytes()[:1000])
    for bad, says in (('text.pkl', 'not a model file'), ('dict.pkl', 'cannot be loaded'), ('cut.pkl', 'cannot be loaded')):
        r = cli('predict', tmp_path / bad, wav)
        assert r.returncode == 2 and str(tmp_path / bad) in one_line(r) and says in r.stderr, (bad, r.stderr)
    r = cli('predict', tmp_path, wav)
    assert r.returncode == 2 and 'a folder, not a model file' in one_line(r)


def test_predict_csv_never_overwrites_the_model_or_an_input(model, tmp_path):
    wav = tmp_path / 'in.wav'
    wav.write_bytes(sorted(FSDD.glob('0_george_*.wav'))[0].read_bytes())
    before_model, before_wav = model.read_bytes(), wav.read_bytes()
    r = cli('predict', model, wav, '--csv', model)
    assert r.returncode == 2 and 'the model file' in one_line(r)
    r = cli('predict', model, wav, '--csv', wav)
    assert r.returncode == 2 and 'one of the files' in one_line(r)
    assert model.read_bytes() == before_model and wav.read_bytes() == before_wav


def test_predict_expands_a_folder(model, data):
    r = cli('predict', model, data / '0')
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(r.stdout.strip().splitlines()) == len(list((data / '0').iterdir())) == 16


def test_predict_killed_keeps_every_printed_row_in_the_csv(model, tmp_path):
    files = sorted(FSDD.glob('*.wav'))
    p = subprocess.Popen([sys.executable, '-c', CODE, 'predict', str(model), *map(str, files), '--bs', '4', '--csv',
                          str(tmp_path / 'p.csv')], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = [p.stdout.readline() for _ in range(20)]
    p.send_signal(signal.SIGTERM)
    rest, _ = p.communicate(timeout=60)
    printed = [l for l in printed + rest.splitlines() if l.strip()]
    assert p.returncode == 143 and 20 <= len(printed) < len(files)
    rows = list(csv.reader(open(tmp_path / 'p.csv')))[1:]
    assert {r[0] for r in rows} >= {l.split('\t')[0] for l in printed}, (len(rows), len(printed))


def test_names_that_are_not_utf8_and_symlink_loops(model, tmp_path):
    d = tmp_path / 'in'
    d.mkdir()
    odd = os.path.join(os.fsdecode(bytes(d)), os.fsdecode(b'caf\xe9.wav'))   # Latin-1 bytes, as old disks hold
    with open(odd, 'wb') as fh: fh.write(sorted(FSDD.glob('0_george_*.wav'))[0].read_bytes())
    (d / 'loop.wav').symlink_to(d / 'loop2.wav')
    (d / 'loop2.wav').symlink_to(d / 'loop.wav')
    r = subprocess.run([sys.executable, '-c', CODE, 'predict', str(model), str(d), '--csv', str(tmp_path / 'p.csv')],
                       capture_output=True, timeout=600)
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stdout.count(b'\n') == 1 and (b'caf\xe9.wav\t0' in r.stdout or b'caf\xe9.wav\t1' in r.stdout), r.stdout
    assert b'loop.wav\terror: a symlink loop' in r.stderr and b'Traceback' not in r.stderr, r.stderr
    text = (tmp_path / 'p.csv').read_bytes().decode('utf-8')   # the CSV is UTF-8: the byte as Python shows it
    assert 'caf\\udce9.wav' in text
    cache = WaveCache(tmp_path / 'cache', sr=8000)
    assert cache.get(odd).shape[0] == 1                               # the cache takes such a name too
