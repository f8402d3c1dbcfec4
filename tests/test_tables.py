"Issue 43: labels, folds and groups from a table; splits that do not leak; cross-validation that resumes."
import json
import os
import signal
import subprocess
import sys
import time

import pytest

RUN = [sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())']
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1'}
QUICK = ['--arch', 'SpecCNN', '--no-pretrained', '--epochs', '1', '--bs', '8']


def cli(*args, **kw):
    return subprocess.run([*RUN, *map(str, args)], capture_output=True, text=True, env=ENV, **kw)


@pytest.fixture(scope='module')
def table(fsdd, tmp_path_factory):
    "Digits 0-2 of the FSDD subset in UrbanSound8K's layout: audio/fold{1,2}/, metadata.csv with the speaker as fsID."
    d = tmp_path_factory.mktemp('us8k')
    rows = []
    for f in sorted(fsdd.glob('[012]_*.wav')):
        digit, speaker, take = f.stem.split('_')
        fold = 1 + int(take) % 2
        (d / 'audio' / f'fold{fold}').mkdir(parents=True, exist_ok=True)
        (d / 'audio' / f'fold{fold}' / f.name).write_bytes(f.read_bytes())
        rows.append(f"{f.name},{speaker},{fold},{['zero', 'one', 'two'][int(digit)]}")
    (d / 'metadata.csv').write_text('slice_file_name,fsID,fold,class\n' + '\n'.join(rows) + '\n')
    return d


def test_a_table_gives_labels_folds_and_groups(table, tmp_path):
    r = cli('train', table, '--labels', table / 'metadata.csv', *QUICK, '--allow-leak', '--out', tmp_path / 'a')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '120 files, 3 labels, folds 1, 2, 5 groups (column fsID)' in r.stdout and 'validation split: fold 1 of the table' in r.stdout
    m = json.loads((tmp_path / 'a' / 'metrics.json').read_text())
    assert m['classes'] == ['one', 'two', 'zero'] and m['n_valid'] == 75
    # each fold holds every speaker: the table's own folds leak speakers, and the command says so unless told
    r = cli('train', table, '--labels', table / 'metadata.csv', *QUICK, '--out', tmp_path / 'b')
    assert r.returncode == 2 and 'on both sides' in r.stderr and '(--allow-leak accepts the leak)' in r.stderr, r.stderr


def test_grouped_splits_and_a_leak_refused(fsdd, tmp_path):
    r = cli('train', fsdd, '--label', r'^(\d)_', '--group-re', r'^\d_([a-z]+)_', '--valid-re', r'_[0-4]\.wav$', *QUICK, '--out', tmp_path / 'a')
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "the split puts group" in lines[0] and 'and 4 more' in lines[0], r.stderr
    r = cli('train', fsdd, '--label', r'^(\d)_', '--group-re', r'^\d_([a-z]+)_', *QUICK, '--out', tmp_path / 'b')
    assert r.returncode == 0 and 'whole groups at random (5 groups)' in r.stdout, r.stderr[-2000:]


@pytest.mark.parametrize('text,msg', [
    ('name,class\nx.wav,a\n', 'no file column'),
    ('file,label\nmissing.wav,a\n', 'row 2: missing.wav not found under'),
    ('file,label,fold\n{f},a,x\n', "row 2: fold 'x' is not a whole number"),
    ('file,label\n{f},a\n{f},b\n', 'row 3: {f} is also in row 2'),
    ('file,label\n{f},\n', 'row 2: the label of {f} is empty'),
])
def test_table_errors_are_one_line(fsdd, tmp_path, text, msg):
    f = sorted(fsdd.glob('*.wav'))[0]
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / f.name).write_bytes(f.read_bytes())
    (tmp_path / 't.csv').write_text(text.format(f=f.name))
    r = cli('train', tmp_path / 'data', '--labels', tmp_path / 't.csv', '--out', tmp_path / 'out')
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and msg.format(f=f.name) in lines[0], r.stderr


@pytest.mark.slow
def test_cv_resumes_after_a_kill(table, tmp_path):
    out = tmp_path / 'cv'
    args = ['cv', table, '--labels', table / 'metadata.csv', *QUICK, '--allow-leak', '--out', out]
    p = subprocess.Popen([*RUN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    t = time.time()
    while time.time() - t < 300:
        line = p.stdout.readline()
        if 'fold 2: training' in line or not line: break
    p.send_signal(signal.SIGKILL); p.wait()
    assert (out / 'fold1' / 'metrics.json').exists() and not (out / 'cv.json').exists()
    r = cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'fold 1: done before' in r.stdout and 'fold 2: training' in r.stdout
    cv = json.loads((out / 'cv.json').read_text())
    assert [f['fold'] for f in cv['folds']] == [1, 2] and set(cv['accuracy']) == {'mean', 'std'}
    assert sum(map(sum, cv['confusion'])) == 120 and (out / 'confusion.png').stat().st_size > 0
    r = cli(*args[:-1], tmp_path / 'cv', '--epochs', '2')   # other settings: refused, nothing mixed
    assert r.returncode == 2 and 'other settings' in r.stderr, r.stderr


@pytest.mark.slow
def test_cv_makes_folds_from_groups(fsdd, tmp_path):
    r = cli('cv', fsdd, '--label', r'^(\d)_', '--group-re', r'^\d_([a-z]+)_', '--k', 3, '--folds', '3', *QUICK, '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    cv = json.loads((tmp_path / 'cv.json').read_text())
    assert [f['fold'] for f in cv['folds']] == [3] and len(cv['classes']) == 10
    assert cv['folds'][0]['n_valid'] in (80, 160)   # one or two of the five speakers, 80 clips each


def tone_table(d):
    "96 half-second clips of a low tone, a high tone or both, labelled 'low', 'high' or 'low;high' in labels.csv, folds 1 and 2."
    import numpy as np
    import soundfile as sf
    from conftest import SR, TONES, noise, tone
    d.mkdir()
    rng, rows = np.random.default_rng(0), []
    for i in range(96):
        labels = [['low'], ['high'], ['low', 'high']][i % 3]
        x = noise(SR // 2, rng, rng.uniform(0.005, 0.05)) + sum(tone(TONES[l], SR // 2, rng) for l in labels)
        sf.write(d / f'clip{i:03d}.wav', x.astype(np.float32), SR)
        rows.append(f"clip{i:03d}.wav,{';'.join(labels)},{1 + i % 4 // 2}")
    (d / 'labels.csv').write_text('file,label,fold\n' + '\n'.join(rows) + '\n')
    return d


@pytest.mark.slow
def test_a_multi_label_table_trains_predicts_and_cross_validates(tmp_path):
    d = tone_table(tmp_path / 'tones')
    args = ['--labels', d / 'labels.csv', '--arch', 'SpecCNN', '--no-pretrained', '--bs', '8']
    r = cli('train', d, *args, '--epochs', '6', '--out', tmp_path / 'a')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '96 files, 2 labels (several per clip), folds 1, 2' in r.stdout and 'label smoothing 0,' in r.stdout
    assert 'accuracy_multi' in r.stdout and 'mAP' in r.stdout and 'micro-F1' in r.stdout   # fastai's epoch table, then the summary
    m = json.loads((tmp_path / 'a' / 'metrics.json').read_text())
    assert m['multi_label'] and m['classes'] == ['high', 'low'] and m['n_valid'] == 48 and 'confusion' not in m, m
    assert m['macro_f1'] >= 0.8 and m['mean_ap'] >= 0.9 and m['per_class']['low']['support'] == 32, m   # 1.0 measured
    assert m['outputs'] == ['classes.png', 'model.pkl', 'model.safetensors'] and m['useless'] is None
    # a clip with both tones gets both labels, from the safe model and from its ONNX export
    both = d / 'clip002.wav'
    assert cli('export', tmp_path / 'a' / 'model.safetensors', tmp_path / 'm.onnx').returncode == 0
    for model in ('model.safetensors', '../m.onnx'):
        r = cli('predict', tmp_path / 'a' / model, both, d / 'clip000.wav', '--csv', tmp_path / 'p.csv')
        rows = (tmp_path / 'p.csv').read_text().splitlines()
        assert r.returncode == 0 and rows[1].split(',')[1] in ('high;low', 'low;high') and rows[2].split(',')[1] == 'low', (model, rows)
    # a balance for one label per clip is refused in one line, before training
    r = cli('train', d, *args, '--balance', 'loss', '--out', tmp_path / 'b')
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'several labels per clip' in r.stderr, r.stderr
    # cross-validation pools the folds' scores (there is no confusion matrix to pool)
    r = cli('cv', d, *args, '--epochs', '1', '--out', tmp_path / 'cv')
    assert r.returncode == 0 and 'wrote cv.json and a folder per fold' in r.stdout, r.stderr[-2000:]
    cv = json.loads((tmp_path / 'cv' / 'cv.json').read_text())
    assert [f['fold'] for f in cv['folds']] == [1, 2] and set(cv['mean_ap']) == {'mean', 'std'} and 'confusion' not in cv
