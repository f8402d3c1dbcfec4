"""Embeddings and heads on them: BirdNET v2.4 on real recordings, the `embed` command's table and its cache, a learner's
embedding against its ONNX export's, and a head trained from embeddings that predicts, finds events and cross-validates."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, SR, noise, tone, tone_learner

from fastaudio_lite.embed import BirdNetEmbedder, LearnerEmbedder, embed_files, embedder
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
import fastaudio_lite.safe  # noqa: F401 (learn.export_safe)

CODE = 'import sys; from fastaudio_lite.cli import main; sys.exit(main())'
ESC10 = ROOT / 'tests' / 'data' / 'esc10'


def cli(*args, cache=None):
    env = {**os.environ, **({'XDG_CACHE_HOME': str(cache)} if cache else {})}
    return subprocess.run([sys.executable, '-c', CODE, *map(str, args)], capture_output=True, text=True, timeout=900, env=env)


def read_parquet(path):
    import pyarrow.parquet as pq
    t = pq.read_table(path)
    return t.column('file').to_pylist(), np.array(t.column('embedding').to_pylist(), np.float32), t


def embed_windows_of(f, emb):
    "A file's windows as `embed_files` cuts them for `emb`: `(channels, samples)` each, the last padded."
    from fastaudio_lite.decode import audio_windows, fix_length
    return [fix_length(w, emb.n_samples, 0., 'zeros') for _, w in audio_windows(f, emb.sr, emb.n_samples, emb.n_samples, True)]


def test_birdnet_embeds_real_recordings():
    emb = BirdNetEmbedder(threads=1)
    assert (emb.sr, emb.window_s, emb.dim) == (48000, 3.0, 1024) and 'CC BY-NC-SA 4.0' in emb.license
    files = sorted(ESC10.rglob('*.ogg'))[::3]   # one take of each class and fold
    rows = list(embed_files(emb, files, cache=False, bs=3))
    x = np.stack([r.vector for r in rows])
    assert x.shape == (len(files), 1024) and np.isfinite(x).all() and (x >= 0).all()   # ReLU features
    again = np.stack([r.vector for r in embed_files(emb, files[:1], cache=False, bs=1)])
    assert np.abs(again - x[:1]).max() < 1e-4   # alone or in a batch of other files' windows, the same
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    assert d[np.triu_indices(len(x), 1)].min() > 1e-3   # different recordings, different vectors
    # the same run's classifier output names what BirdNET hears: a dog in every dog recording, the chicken in a rooster's
    from fastaudio_lite.embed import birdnet_file
    names = (emb.path.parent / birdnet_file.replace('Model_FP32.tflite', 'Labels.txt')).read_text().splitlines()
    def heard(f):
        wins = np.stack(embed_windows_of(f, emb))
        emb.embed_windows(wins)
        return names[int(emb.interp.get_tensor(emb.interp.get_output_details()[0]['index']).max(0).argmax())]
    assert [heard(f) for f in sorted((ESC10 / '001 - Dog bark').glob('*.ogg'))] == ['Dog_Dog'] * 4
    assert 'Gallus gallus_Red Junglefowl' in [heard(f) for f in sorted((ESC10 / '009 - Rooster').glob('*.ogg'))]


@pytest.fixture(scope='module')
def tones(tmp_path_factory):
    "The tone learner's model files, and a folder of 1-s clips at 16 kHz: a 400 Hz tone, a 3 kHz tone or noise, 12 of each."
    d = tmp_path_factory.mktemp('tones')
    learn = tone_learner(d)
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')
    rng = np.random.default_rng(5)
    for label, f in (('low', 400), ('high', 3000), ('noise', None)):
        (d / 'data' / label).mkdir(parents=True)
        for i in range(12):
            t = np.arange(16000) / 16000
            x = rng.normal(0, 0.02, 16000) + (0.3 * np.sin(2 * np.pi * f * (1 + rng.uniform(-.05, .05)) * t) if f else 0)
            sf.write(d / 'data' / label / f'{label}_{i}.wav', x.astype(np.float32), 16000)
    return d


def test_the_embed_command_writes_a_table_and_reuses_its_cache(tones, tmp_path):
    files = sorted((tones / 'data').rglob('*.wav'))
    cache = tmp_path / 'cache'
    r = cli('embed', tones / 'model.safetensors', tones / 'data', '--out', tmp_path / 'a.parquet', cache=cache)
    assert r.returncode == 0 and '0 from the cache' in r.stdout, r.stderr[-2000:]
    names, a, t = read_parquet(tmp_path / 'a.parquet')
    assert names == [str(f) for f in files] and a.shape == (36, 512) and t.schema.metadata[b'embedder'] == b'fastaudio:SpecCNN'
    # the same files again: every vector from the cache; a file whose content changed is embedded again
    r = cli('embed', tones / 'model.safetensors', tones / 'data', '--out', tmp_path / 'a.parquet', cache=cache)
    assert r.returncode == 0 and '36 from the cache' in r.stdout, r.stdout
    sf.write(files[0], np.zeros(16000, np.float32) + 0.01, 16000)
    r = cli('embed', tones / 'model.safetensors', tones / 'data', '--out', tmp_path / 'b.parquet', cache=cache)
    assert r.returncode == 0 and '35 from the cache' in r.stdout, r.stdout
    _, b, _ = read_parquet(tmp_path / 'b.parquet')
    assert np.abs(b[1:] - a[1:]).max() < 1e-6 and np.abs(b[0] - a[0]).max() > 1e-3
    # the ONNX export's embedding output gives the learner's vectors, without torch in the loop
    r = cli('embed', tones / 'model.onnx', tones / 'data', '--out', tmp_path / 'c.parquet', '--no-cache')
    assert r.returncode == 0, r.stderr[-2000:]
    _, c, _ = read_parquet(tmp_path / 'c.parquet')
    assert np.abs(c - b).max() < 1e-4, np.abs(c - b).max()
    # a long recording, window by window
    long = tmp_path / 'long.wav'
    sf.write(long, np.concatenate([sf.read(f)[0] for f in files[:3]]), 16000)
    r = cli('embed', tones / 'model.onnx', long, '--windows', '--hop', '0.25', '--out', tmp_path / 'w.parquet', '--no-cache')
    _, w, t = read_parquet(tmp_path / 'w.parquet')
    assert r.returncode == 0 and w.shape == (11, 512) and t.column('start_s').to_pylist()[:3] == [0, 0.25, 0.5], r.stderr[-2000:]
    # an output over an input: refused in one line, even with --force
    r = cli('embed', tones / 'model.safetensors', files[1], '--out', files[1], '--force')
    assert r.returncode == 2 and 'one of the files to embed' in r.stderr and r.stderr.count('\n') == 1, r.stderr


def test_a_learner_embeds_as_its_onnx_export_does(tones):
    from fastaudio_lite.safe import load_audio_learner
    learn = load_audio_learner(tones / 'model.safetensors')
    files = sorted((tones / 'data').rglob('*.wav'))[::5]
    a = learn.embed(files)
    b = np.stack([e.vector for e in embed_files(embedder(tones / 'model.onnx'), files, cache=False)])
    assert a.shape == b.shape == (len(files), 512) and np.abs(a - b).max() < 1e-4
    assert isinstance(embedder(tones / 'model.safetensors'), LearnerEmbedder)


@pytest.mark.slow
def test_a_head_on_birdnet_embeddings_trains_predicts_finds_events_and_cross_validates(tones, tmp_path):
    cache = tmp_path / 'cache'
    data = tones / 'data'
    r = cli('train', data, '--embedder', 'birdnet', '--valid-re', r'_1[01]\.wav$', '--out', tmp_path / 'head', cache=cache)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'CC BY-NC-SA 4.0' in r.stderr   # the model's license, named where the user chose it
    m = json.loads((tmp_path / 'head' / 'metrics.json').read_text())
    assert (m['n_train'], m['n_valid'], m['embedder']['name'], m['head']) == (30, 6, 'birdnet', 'linear')
    assert m['accuracy'] == 1.0 and not m['useless'], m
    model = tmp_path / 'head' / 'model.safetensors'
    r = cli('predict', model, data / 'low' / 'low_0.wav', data / 'high' / 'high_0.wav', cache=cache)
    assert r.returncode == 0 and [l.split('\t')[1] for l in r.stdout.splitlines()] == ['low', 'high'], r.stderr[-2000:]
    # a recording of noise, then a 400 Hz tone from 6 s to 12 s: one event of it, where it is
    rng = np.random.default_rng(0)
    x = noise(18 * SR, rng, 0.02)
    x[6 * SR:12 * SR] += 0.3 * np.sin(2 * np.pi * 400 * np.arange(6 * SR) / SR)
    sf.write(tmp_path / 'rec.wav', x.astype(np.float32), SR)
    r = cli('predict', model, tmp_path / 'rec.wav', '--events', '--background', 'noise', '--hop', '1', cache=cache)
    rows = [l.split(',') for l in r.stdout.splitlines()[1:]]
    assert r.returncode == 0 and [row[1] for row in rows] == ['low'], (r.stdout, r.stderr[-2000:])
    assert abs(float(rows[0][2]) - 6) <= 1.5 and abs(float(rows[0][3]) - 12) <= 1.5, rows
    r = cli('export', model, tmp_path / 'birdnet_head.onnx')   # BirdNET is TFLite: its head stays safetensors
    errors = [l for l in r.stderr.splitlines() if not l.startswith('warning: ')]   # LiteRT's own notice when BirdNET loads
    assert r.returncode == 2 and 'TFLite' in r.stderr and len(errors) == 1, r.stderr
    # cross-validation on groups (the clip's index), each fold a prototype head: the embeddings come from the cache
    (tmp_path / 't.csv').write_text('file,label,group\n' + ''.join(
        f"{lab}/{lab}_{i}.wav,{lab},g{i % 3}\n" for lab in ('low', 'high', 'noise') for i in range(12)))
    r = cli('cv', data, '--labels', tmp_path / 't.csv', '--k', '3', '--embedder', 'birdnet', '--head', 'prototype', '--out', tmp_path / 'cv', cache=cache)
    assert r.returncode == 0, r.stderr[-3000:]
    cv = json.loads((tmp_path / 'cv' / 'cv.json').read_text())
    assert len(cv['folds']) == 3 and cv['accuracy']['mean'] >= 0.9, cv   # 0.97 here: one noise clip of 12 called a tone in one fold


def test_a_head_whose_embedder_is_missing_or_other_is_refused(tones, tmp_path):
    cache = tmp_path / 'cache'
    emb_file = tmp_path / 'emb.onnx'
    emb_file.write_bytes((tones / 'model.onnx').read_bytes())
    r = cli('train', tones / 'data', '--embedder', emb_file, '--head', 'prototype', '--valid-re', r'_1[01]\.wav$', '--out', tmp_path / 'h', cache=cache)
    assert r.returncode == 0, r.stderr[-2000:]
    model = tmp_path / 'h' / 'model.safetensors'
    r = cli('predict', model, tones / 'data' / 'low' / 'low_0.wav', cache=cache)
    assert r.returncode == 0 and r.stdout.split('\t')[1] == 'low', r.stderr[-2000:]
    import torch
    torch.manual_seed(123)
    tone_learner(tmp_path / 'other').export_onnx(emb_file)   # other weights under the same name
    r = cli('predict', model, tones / 'data' / 'low' / 'low_0.wav', cache=cache)
    assert r.returncode == 2 and 'not the one the head was trained on' in r.stderr and r.stderr.count('\n') == 1, r.stderr
    emb_file.unlink()
    r = cli('predict', model, tones / 'data' / 'low' / 'low_0.wav', cache=cache)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and r.stderr.count('\n') == 1, r.stderr


def test_a_transformers_model_embeds_by_its_mean_hidden_state(hf_dirs):
    from fastaudio_lite.embed import HFEmbedder
    emb = embedder(f"hf:{hf_dirs / 'w2v'}", window_s=0.5)
    assert isinstance(emb, HFEmbedder) and (emb.sr, emb.dim, emb.n_samples) == (16000, 32, 8000)
    x = np.random.default_rng(0).normal(0, 0.1, (3, 1, 8000)).astype(np.float32)
    a, b = emb(x), emb(x[1:2])
    assert a.shape == (3, 32) and np.isfinite(a).all() and np.abs(a[1:2] - b).max() < 1e-4
    assert emb.key == embedder(f"hf:{hf_dirs / 'w2v'}").key   # the cache's key is the weights', whatever the window


def test_a_head_serves_and_its_space_carries_its_embedder(tones, tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))   # the page's vectors are kept nowhere
    from fastaudio_lite.serve import Served, classify_recording, write_space
    emb_file = tmp_path / 'emb.onnx'
    emb_file.write_bytes((tones / 'model.onnx').read_bytes())
    r = cli('train', tones / 'data', '--embedder', emb_file, '--head', 'prototype', '--valid-re', r'_1[01]\.wav$', '--out', tmp_path / 'h', cache=tmp_path / 'c')
    assert r.returncode == 0, r.stderr[-2000:]
    model, data = tmp_path / 'h' / 'model.safetensors', tones / 'data'
    m = Served(model)
    assert (m.labels, m.sr, m.source) == (['high', 'low', 'noise'], 8000, 'a head on onnx:emb.onnx')
    probs, _, _, summary = classify_recording(m, data / 'low' / 'low_0.wav')
    assert max(probs, key=probs.get) == 'low', (probs, summary)
    long = tmp_path / 'long.wav'   # 2 s of the high tone, then 2 s of the low one: a timeline and events
    sf.write(long, np.concatenate([sf.read(data / 'high' / f'high_{i}.wav')[0] for i in (0, 1)] + [sf.read(data / 'low' / f'low_{i}.wav')[0] for i in (0, 1)]), 16000)
    probs, _, rows, summary = classify_recording(m, long, background=['noise'])
    assert 'windows' in summary and [r[0] for r in rows] == ['high', 'low'], (rows, summary)
    assert not (tmp_path / 'xdg').exists()
    space = tmp_path / 'space'
    write_space(model, space)
    assert {'model.safetensors', 'emb.onnx', 'app.py'} <= {p.name for p in space.iterdir()}
    assert any(q.startswith('onnxruntime==') for q in (space / 'requirements.txt').read_text().split())
    assert 'a head on the embeddings of onnx:emb.onnx' in (space / 'README.md').read_text()
    emb_file.unlink()   # the Space's copy of the embedder serves: the same probabilities
    again, _, _, _ = classify_recording(Served(space / 'model.safetensors'), data / 'low' / 'low_0.wav')
    first, _, _, _ = classify_recording(m, data / 'low' / 'low_0.wav')
    assert all(abs(again[k] - first[k]) < 1e-5 for k in first), (again, first)
    # the head and its embedder as one ONNX file: predicted without torch, as the head predicts
    r = cli('export', space / 'model.safetensors', tmp_path / 'head.onnx')
    assert r.returncode == 0 and 'the head and its embedder' in r.stdout, r.stderr[-2000:]
    from fastaudio_lite.runtime import OnnxModel
    assert OnnxModel(tmp_path / 'head.onnx').labels == ['high', 'low', 'noise']
    r = cli('predict', tmp_path / 'head.onnx', data / 'low' / 'low_0.wav', data / 'high' / 'high_0.wav')
    assert r.returncode == 0 and [l.split('\t')[1] for l in r.stdout.splitlines()] == ['low', 'high'], r.stdout + r.stderr[-2000:]


def test_cv_shots_trains_on_k_clips_of_each_class_in_each_draw(tones, tmp_path):
    (tmp_path / 't.csv').write_text('file,label,fold\n' + ''.join(
        f"{lab}/{lab}_{i}.wav,{lab},{i % 3 + 1}\n" for lab in ('low', 'high', 'noise') for i in range(12)))
    args = ['cv', tones / 'data', '--labels', tmp_path / 't.csv', '--embedder', tones / 'model.onnx', '--head', 'prototype']
    r = cli(*args, '--shots', 2, '--draws', 2, '--folds', '1,2', '--out', tmp_path / 'cv', cache=tmp_path / 'c')
    assert r.returncode == 0 and '4 runs (2 folds, 2 draws each)' in r.stdout, r.stderr[-2000:]
    cv = json.loads((tmp_path / 'cv' / 'cv.json').read_text())
    assert cv['draws'] == 2 and [(f['fold'], f['draw'], f['n_train'], f['n_valid']) for f in cv['folds']] == \
        [(1, 0, 6, 12), (1, 1, 6, 12), (2, 0, 6, 12), (2, 1, 6, 12)], cv['folds']
    assert cv['accuracy']['mean'] >= 0.8, cv   # two clips of each tone tell them apart
    r = cli(*args, '--shots', 9, '--out', tmp_path / 'cv9', cache=tmp_path / 'c')   # 8 training clips of each class per fold
    assert r.returncode == 2 and "--shots 9: class 'high' has 8 training clip(s)" in r.stderr and r.stderr.count('\n') == 1, r.stderr


def test_a_head_takes_several_labels_per_clip(tones, tmp_path):
    (tmp_path / 't.csv').write_text('file,label\n' + ''.join(
        f"{lab}/{lab}_{i}.wav,{'noise' if lab == 'noise' else f'tone;{lab}'}\n" for lab in ('low', 'high', 'noise') for i in range(12)))
    r = cli('train', tones / 'data', '--labels', tmp_path / 't.csv', '--valid-re', r'_1[01]\.wav$', '--embedder', tones / 'model.onnx',
            '--epochs', 30, '--out', tmp_path / 'h', cache=tmp_path / 'c')
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / 'h' / 'metrics.json').read_text())
    assert m['multi_label'] and m['classes'] == ['high', 'low', 'noise', 'tone'] and m['macro_f1'] >= 0.9, m
    assert m['outputs'] == ['classes.png', 'model.safetensors']
    r = cli('predict', tmp_path / 'h' / 'model.safetensors', tones / 'data' / 'low' / 'low_0.wav', tones / 'data' / 'noise' / 'noise_0.wav',
            '--topk', 2, cache=tmp_path / 'c')
    rows = [l.split('\t') for l in r.stdout.splitlines()]
    assert r.returncode == 0 and sorted(rows[0][1].split(';')) == ['low', 'tone'] and rows[1][1] == 'noise', r.stdout + r.stderr[-2000:]


def test_a_head_on_the_mean_and_maximum_of_overlapping_windows(tones, tmp_path):
    from fastaudio_lite.heads import HeadModel
    from fastaudio_lite.serve import Served, classify_recording
    data = tones / 'data'
    r = cli('train', data, '--embedder', tones / 'model.onnx', '--pool', 'meanmax', '--embed-hop', 0.25, '--valid-re', r'_1[01]\.wav$',
            '--out', tmp_path / 'h', cache=tmp_path / 'c')
    assert r.returncode == 0 and "0.25 s apart, a file's mean and maximum" in r.stdout, r.stdout + r.stderr[-2000:]
    model = tmp_path / 'h' / 'model.safetensors'
    hm = HeadModel(model)
    assert (hm.pool, hm.hop_s, hm.head.net[-1].in_features) == ('meanmax', 0.25, 1024)   # twice the embedding's 512
    assert json.loads((tmp_path / 'h' / 'metrics.json').read_text())['accuracy'] >= 0.8
    r = cli('predict', model, data / 'low' / 'low_0.wav', data / 'high' / 'high_0.wav', cache=tmp_path / 'c')
    assert r.returncode == 0 and [l.split('\t')[1] for l in r.stdout.splitlines()] == ['low', 'high'], r.stdout + r.stderr[-2000:]
    probs, _, _, _ = classify_recording(Served(model), data / 'low' / 'low_1.wav')   # the page: a window as a file of one window
    assert max(probs, key=probs.get) == 'low', probs
    r = cli('export', model, tmp_path / 'h.onnx')
    assert r.returncode == 2 and 'twice the embedding' in r.stderr and r.stderr.count('\n') == 1, r.stderr
    r = cli('train', data, '--embedder', tones / 'model.onnx', '--embed-hop', -1, '--out', tmp_path / 'x')
    assert r.returncode == 2 and '--embed-hop must be a number of seconds > 0' in r.stderr, r.stderr
