"The fastaudio-lite command: train on FSDD, predict with a broken file among good ones, user errors."
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from fastaudio_lite.cli import main

CLI = [sys.executable, '-m', 'fastaudio_lite.cli']


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())', *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope='module')
def trained(fsdd, tmp_path_factory):
    out = tmp_path_factory.mktemp('fsdd_model')
    r = cli('train', fsdd, '--label', r'^(\d)_', '--valid-re', r'_[0-4]\.wav$', '--epochs', 20, '--bs', 16, '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


@pytest.mark.slow
def test_train_fsdd_official_split(trained):
    out, r = trained
    m = json.loads((out / 'metrics.json').read_text())
    assert m['n_valid'] == 150 and m['n_train'] == 250
    assert m['accuracy'] >= 0.8, m   # 0.873 measured (seed 42); chance is 0.1
    assert (out / 'model.pkl').stat().st_size > 0 and (out / 'confusion.png').stat().st_size > 0
    assert 'validation accuracy' in r.stdout and 'train_loss' in r.stdout  # fastai's per-epoch table


@pytest.mark.slow
def test_predict_with_a_broken_file(trained, fsdd, tmp_path):
    out, _ = trained
    good = sorted(fsdd.glob('7_*_[0-4].wav'))[:3]
    broken = tmp_path / 'broken.wav'
    broken.write_bytes(b'\x00' * 100)
    r = cli('predict', out / 'model.pkl', good[0], broken, good[1], good[2], '--topk', 2, '--csv', tmp_path / 'p.csv')
    assert r.returncode == 1
    assert 'broken.wav' in r.stderr and 'error' in r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all(l.split('\t')[1] == '7' for l in lines)
    rows = list(csv.reader(open(tmp_path / 'p.csv')))
    assert rows[0] == ['file', 'pred', 'prob'] and len(rows) == 4 and all(r[1] == '7' for r in rows[1:])


@pytest.mark.slow
def test_predict_windows_streams_a_long_recording(trained, fsdd, tmp_path):
    "--windows: one row per window with its start and end, in order; a broken file is named and the others go on."
    out, _ = trained
    clips = [sf.read(f, dtype='float32')[0] for f in sorted(fsdd.glob('[37]_jackson_1[0-3].wav'))]
    long = np.concatenate(clips)
    sf.write(tmp_path / 'long.wav', long, 8000)
    broken = tmp_path / 'broken.wav'
    broken.write_bytes(b'RIFF0000WAVE')
    r = cli('predict', out / 'model.pkl', tmp_path / 'long.wav', broken, '--windows', '--hop', 0.25, '--bs', 3, '--csv', tmp_path / 'w.csv')
    assert r.returncode == 1 and 'broken.wav' in r.stderr
    rows = list(csv.reader(open(tmp_path / 'w.csv')))
    assert rows[0] == ['file', 'start_s', 'end_s', 'pred', 'prob'] + [str(d) for d in range(10)]   # then every label's score
    starts = [float(r[1]) for r in rows[1:]]
    total = len(long) / 8000
    assert starts[:3] == [0, 0.25, 0.5] and abs(starts[-1] - (total - 1)) < 1e-3 and starts == sorted(starts)
    assert all(abs(float(r[2]) - float(r[1]) - 1) < 1e-6 for r in rows[1:])
    assert len(r.stdout.strip().splitlines()) == len(rows) - 1
    assert {r[3] for r in rows[1:]} <= {str(d) for d in range(10)}


def run_main(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


USER_ERRORS = [
    (lambda d: ('train', d / 'nope'), 'no such folder'),
    (lambda d: ('train', d / 'empty'), 'no audio files'),
    (lambda d: ('train', d / 'one', '--label', 'parent'), 'only one class'),
    (lambda d: ('train', d / 'one', '--label', r'^\d_'), 'no group'),
    (lambda d: ('train', d / 'one', '--label', r'^(\d'), 'not a valid regex'),
    (lambda d: ('train', d / 'two', '--split', 'birds'), '--split'),
    (lambda d: ('train', d / 'two', '--split', 'speech-commands'), 'validation_list.txt'),
    (lambda d: ('train', d / 'two', '--valid-re', 'zzz'), 'validation set is empty'),
    (lambda d: ('train', d / 'two', '--lr', 'fast'), '--lr'),
    (lambda d: ('train', d / 'two', '--average', '2'), '--average must be a fraction of the steps'),
    (lambda d: ('train', d / 'two', '--synth-pretrain', '2'), 'at least 3 voices'),
    (lambda d: ('train', d / 'two', '--synth-words', 'a'), "--synth-words must be 'label=word,...'"),
    (lambda d: ('train', d / 'two', '--bs', '1', '--valid-re', '^1_', '--out', d / 'out', '--synth-pretrain', '3', '--synth-words', 'a=hello!,b=bye!'), "can only say plain words here"),
    (lambda d: ('predict', d / 'no_model.pkl', d / 'x.wav'), 'no such model'),
    (lambda d: ('train', d / 'two', '--strict'), 'two/b/bad.wav: empty file'),
    (lambda d: ('train', d / 'two', '--split', 'esc:1'), 'not an ESC file name'),
    (lambda d: ('train', d / 'two', '--split', 'speakers'), 'no layout with speakers'),
    (lambda d: ('train', d / 'two', '--lr', 'nan'), "--lr must be 'auto' or a positive number"),
    (lambda d: ('train', d / 'two', '--lr', '-1'), "--lr must be 'auto' or a positive number"),
    (lambda d: ('train', d / 'two', '--mixup', 'nan'), '--mixup must be a finite number'),
    (lambda d: ('train', d / 'two', '--duration', 'inf'), '--duration must be a finite number'),
    (lambda d: ('train', d / 'two', '--duration', '1e-6', '--out', d / 'o'), 'shorter than one spectrogram window'),
    (lambda d: ('train', d / 'two', '--cache', d / 'two' / 'a' / '0_x.wav', '--out', d / 'o'), 'a file, not a folder'),
    (lambda d: ('predict', d / 'm.pkl', d / 'x.wav', '--windows', '--hop', '0'), '--hop must be a number of seconds > 0'),
    (lambda d: ('predict', d / 'm.pkl', d / 'x.wav', '--windows', '--hop', 'nan'), '--hop must be a number of seconds > 0'),
    (lambda d: ('predict', d / 'm.pkl', d / 'x.wav', '--windows', '--hop', 'inf'), '--hop must be a number of seconds > 0'),
    (lambda d: ('export', d / 'm.pkl', d / 'm.txt'), 'name it .onnx (ONNX) or .safetensors'),
]


@pytest.mark.parametrize('make,msg', USER_ERRORS)
def test_user_errors_one_line(capsys, tmp_path, make, msg):
    (tmp_path / 'empty').mkdir()
    for sub, n in (('one/a', 2), ('two/a', 2), ('two/b', 2)):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n): sf.write(tmp_path / sub / f'{i}_x.wav', np.zeros(800, np.float32), 8000)
    (tmp_path / 'two' / 'b' / 'bad.wav').write_bytes(b'')   # left out (named) unless --strict
    (tmp_path / 'm.pkl').write_bytes(b'')
    code, err = run_main(capsys, *make(tmp_path))
    lines = [l for l in err.strip().splitlines() if not l.startswith('warning: ')]   # files left out, classes with few files
    assert code == 2 and msg in err and len(lines) == 1, err


def test_train_reads_the_data_and_leaves_out_bad_files(tmp_path, capsys):
    "Clip length and rate chosen from the headers and said; a bad file named once and left out; 20% random split said."
    from fastaudio_lite.cli import build_dls
    for label in 'ab':
        (tmp_path / label).mkdir()
        for i in range(8): sf.write(tmp_path / label / f'{i}.wav', np.zeros(int(44100 * (3 + i / 4)), np.float32), 44100)
    (tmp_path / 'a' / 'bad.wav').write_bytes(b'RIFF')
    with pytest.warns(UserWarning, match='leaving out 1 of 17 files') as w:   # the command prints it as one line
        dls = build_dls(tmp_path, bs=4, spec='wave')
    assert any('a/bad.wav' in str(o.message) for o in w)
    out = capsys.readouterr()
    assert '20% at random' in out.out and '5 s at 22,050 Hz (sound)' in out.out and '5 s clips cover 100%' in out.out, out.out
    x, _ = dls.one_batch()
    assert x.shape[-1] == 5 * 22050 and len(dls.train_ds) + len(dls.valid_ds) == 16
    assert dls.kind == 'sound'  # for the recipe (recipes.recipe)
    dls = build_dls(tmp_path, bs=4, sr=8000, duration=1.5, kind='speech', spec='wave', cache=tmp_path / 'cache')
    assert dls.one_batch()[0].shape[-1] == 12000 and dls.kind == 'speech'
    assert len(list((tmp_path / 'cache').glob('*.wave'))) == 16  # --cache: every good file decoded once, into the cache
    # the recipe's SpecAugment on spectrograms, with the hop asked for
    dls = build_dls(tmp_path, bs=4, sr=8000, duration=1.5, kind='speech', hop_length=80, augment='specaug')
    tfms = [type(t).__name__ for t in dls.after_batch.fs]
    assert 'SpecAugment' in tfms and 'AddNoise' not in tfms and dls.one_batch()[0].shape[-1] == 151, tfms
    # several mel windows as channels (spectrogram_preset's win_scales): half, one and two times the speech preset's 25 ms
    x = build_dls(tmp_path, bs=4, sr=8000, duration=1.5, kind='speech', augment=False, win_scales=(0.5, 1, 2)).one_batch()[0]
    assert x.shape[-3:] == (3, 64, 301) and x.channel_names == ['12 ms', '25 ms', '50 ms'], (x.shape, x.channel_names)


def test_batch_size_from_the_recipe(tmp_path):
    "Without --bs, the batch size is the recipe's for the kind of sound (recipes.recipes: 16 for sound, 32 for speech)."
    from fastaudio_lite.cli import UserError, build_dls
    from fastaudio_lite.recipes import recipe
    for label in 'ab':
        (tmp_path / label).mkdir()
        for i in range(20): sf.write(tmp_path / label / f'{i}.wav', np.zeros(8000, np.float32), 8000)
    args = dict(spec='wave', sr=8000, duration=1)
    assert [build_dls(tmp_path, kind=k, **args).bs for k in ('sound', 'speech')] == [recipe('sound').bs, recipe('speech').bs] == [16, 32]
    assert build_dls(tmp_path, kind='sound', bs=8, **args).bs == 8
    with pytest.raises(UserError, match='--bs must be >= 1, got 0'): build_dls(tmp_path, bs=0, **args)


@pytest.mark.parametrize('extra', [['--spec', 'mfcc', '--arch', 'SpecCNN', '--lr', 'auto', '--tta', '--average', '0.3'],
                                   ['--spec', 'complex', '--coord', '--arch', 'SpecCNN', '--no-augment', '--average', '0'],
                                   ['--spec', 'stft', '--arch', 'WaveCNN'], ['--spec', 'wave', '--arch', 'WaveCNN'],
                                   ['--synth-pretrain', '6', '--arch', 'SpecCNN']])
def test_train_options(fsdd, tmp_path, extra):
    data = tmp_path / 'data'
    for digit in '01':
        (data / digit).mkdir(parents=True)
        for f in sorted(fsdd.glob(f'{digit}_*.wav'))[::2]: (data / digit / f.name).symlink_to(f)
    r = cli('train', data, '--sr', 8000, '--epochs', 1, '--bs', 8, '--out', tmp_path / 'out', *extra)
    if extra[1] == 'stft' and 'WaveCNN' in extra:  # a 1-D model on spectrograms is a user error, reported in one line
        assert r.returncode == 2 and 'waveforms' in r.stderr and len(r.stderr.strip().splitlines()) == 1
        return
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    share = lambda a: abs(a * m['n_valid'] - round(a * m['n_valid'])) < 1e-6   # a number of the validation clips
    assert m['n_train'] + m['n_valid'] == 40 and share(m['accuracy']) and m['lr'] > 0, m
    # --tta: the accuracy with test-time augmentation too, in metrics.json and said
    assert ('tta_accuracy' in m) == ('--tta' in extra) and share(m.get('tta_accuracy', 0)), m
    assert ('with test-time augmentation' in r.stdout) == ('--tta' in extra), r.stdout
    # the speech recipe (recipes.recipes) unless told: mixup and label smoothing; --no-augment drops mixup too
    assert 'recipe (speech): epochs 1,' in r.stdout and 'batch 8,' in r.stdout, r.stdout
    assert (m['mixup'], m['label_smoothing']) == ((0., 0.1) if '--no-augment' in extra else (0.4, 0.1)), m
    from fastaudio_lite.recipes import recipe
    # WeightAverage's span: the recipe's (0.2 for speech) unless told; --average 0 turns it off
    assert m['average'] == (float(extra[extra.index('--average') + 1]) if '--average' in extra else recipe('speech').average), m
    assert f"weight average {m['average']:g}" in r.stdout, r.stdout
    from fastai.learner import load_learner  # the exported learner carries the callback only when it averaged
    assert hasattr(load_learner(tmp_path / 'out' / 'model.pkl'), 'weight_average') == (m['average'] > 0), m
    assert ('augmentation none' in r.stdout) == ('--no-augment' in extra)
    assert ('specaug' in r.stdout) == ('--no-augment' not in extra and 'wave' not in extra), r.stdout
    if '--synth-pretrain' in extra:  # the labels '0' and '1' said by 6 voices, pretrained, then trained at 3e-3
        assert m['synth_voices'] == 6 and 0 < m['synth_valid_accuracy'] <= 1 and m['lr'] == 3e-3, m
        assert sorted(p.name for p in (tmp_path / 'out' / 'synth' / 'clips').iterdir() if p.is_dir()) == ['0', '1']
        assert 'pretrained on 10 synthetic clips (6 voices)' in r.stdout, r.stdout


def test_seed_repeats_a_run(fsdd, tmp_path):
    "Two runs with one --seed give the same losses and accuracy (the split, batch order, weights, augmentations); another seed does not."
    import re
    data = tmp_path / 'data'
    for digit in '01':
        (data / digit).mkdir(parents=True)
        for f in sorted(fsdd.glob(f'{digit}_*.wav'))[::2]: (data / digit / f.name).symlink_to(f)
    def run(seed, out):
        r = cli('train', data, '--sr', 8000, '--epochs', 2, '--bs', 8, '--arch', 'SpecCNN', '--seed', seed, '--out', tmp_path / out)
        assert r.returncode == 0, r.stderr[-2000:]
        rows = re.findall(r'(\d+)\s+(\d+\.\d{6})\s+(\d+\.\d{6})\s+(\d+\.\d{6})\s+\d\d:\d\d', r.stdout)   # fastai's epoch table
        assert len(rows) == 2, r.stdout
        return rows, json.loads((tmp_path / out / 'metrics.json').read_text())['accuracy']
    first = run(7, 'a')
    assert run(7, 'b') == first
    assert run(8, 'c')[0] != first[0]


def test_logs_one_line_per_epoch_in_a_file_and_bars_on_a_terminal(fsdd, tmp_path):
    "stdout to a pipe (a log file, CI): the epoch table, one line an epoch, no bar redraws; on a terminal, fastai's bars."
    import os, pty
    data = tmp_path / 'data'
    data.mkdir()
    for f in sorted(fsdd.glob('[01]_*_1[0-3].wav')) + sorted(fsdd.glob('[01]_*_[0-1].wav')): (data / f.name).symlink_to(f)
    args = ['train', data, '--label', r'^(\d)_', '--valid-re', r'_[0-1]\.wav$', '--arch', 'SpecCNN', '--epochs', 3, '--bs', 8]
    r = cli(*args, '--out', tmp_path / 'piped')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '\r' not in r.stdout and '\u2588' not in r.stdout, r.stdout[:500]
    lines = r.stdout.splitlines()
    h = next(i for i, l in enumerate(lines) if l.split()[:3] == ['epoch', 'train_loss', 'valid_loss'])
    assert [l.split()[0] for l in lines[h + 1:h + 4]] == ['0', '1', '2'] and lines[h + 4].startswith('validation accuracy')
    main, sub = pty.openpty()
    p = subprocess.Popen([sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())',
                          *map(str, args), '--out', str(tmp_path / 'tty')], stdout=sub, stderr=subprocess.PIPE)
    os.close(sub)
    out = b''
    while True:
        try: chunk = os.read(main, 65536)
        except OSError: break   # EIO: the command closed the terminal
        if not chunk: break
        out += chunk
    assert p.wait() == 0, p.stderr.read()[-2000:]
    os.close(main)
    text = out.decode(errors='replace')
    assert 'Epoch 1/3' in text and '\r' in text and 'validation accuracy' in text   # fastai's bars, redrawn in place
