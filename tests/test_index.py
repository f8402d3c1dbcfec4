"""An archive's index from the command: index, resume after vectors saved without their rows, add recordings, search
by example (a planted copy of the query first), a head trained from a labels table of windows, every window classified;
the label page in Debian's chromium, its answers in the table after the server is killed."""
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, TONES, noise, tone, tone_learner

import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)

pytest.importorskip('usearch')
CODE = 'import sys; from fastaudio_lite.cli import main; sys.exit(main())'


def cli(*args):
    return subprocess.run([sys.executable, '-c', CODE, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    "Each test's embedding cache (the queries' vectors) in its own folder, never a shared one."
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    "The tone learner's ONNX export (the embedder) and eight 6-s recordings of noise; `rec3` holds a copy of the query at 2 s, `rec5` a low tone at 4 s."
    d = tmp_path_factory.mktemp('archive')
    tone_learner(d).export_onnx(d / 'emb.onnx')
    rng = np.random.default_rng(1)
    query = noise(SR // 2, rng) + tone(TONES['high'], SR // 2, rng)
    sf.write(d / 'query.wav', query.astype(np.float32), SR)
    (d / 'rec').mkdir()
    for i in range(8):
        x = noise(6 * SR, rng)
        if i == 3: x[2 * SR:2 * SR + SR // 2] = query
        if i == 5: x[4 * SR:4 * SR + SR // 2] += tone(TONES['low'], SR // 2, rng)
        if i in (1, 6): x[SR:SR + SR // 2] += tone(TONES['high'], SR // 2, rng)
        sf.write(d / 'rec' / f'rec{i}.wav', x.astype(np.float32), SR)
    return d


def test_index_search_train_and_classify_an_archive(archive, tmp_path):
    recs = sorted((archive / 'rec').glob('*.wav'))
    idx = tmp_path / 'idx'
    r = cli('index', *recs[:5], '--embedder', archive / 'emb.onnx', '--out', idx)
    assert r.returncode == 0 and '5 file(s) added' in r.stdout and '115 windows of 0.5 s every 0.25 s' in r.stdout, r.stdout + r.stderr[-2000:]
    # vectors saved without their rows (a kill between a checkpoint's two steps): removed when the index is opened again
    from usearch.index import Index
    v = Index(ndim=512, metric='cos', dtype='f32')
    v.load(str(idx / 'vectors.usearch'))
    v.add(np.arange(1000, 1003, dtype=np.uint64), np.random.default_rng(0).random((3, 512), dtype=np.float32))
    v.save(str(idx / 'vectors.usearch'))
    r = cli('index', archive / 'rec', '--out', idx)   # the other three added; the first five not embedded again
    assert r.returncode == 0 and '3 file(s) added' in r.stdout and '8 files, 184 windows' in r.stdout, r.stdout + r.stderr[-2000:]
    r = cli('search', idx, archive / 'query.wav', '--top', 5)
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert r.returncode == 0 and len(rows) == 5, r.stdout + r.stderr[-2000:]
    assert rows[0]['file'].endswith('rec3.wav') and float(rows[0]['onset_s']) == 2.0 and float(rows[0]['peak']) > 0.999, rows[0]
    assert not any(r['file'].endswith('rec3.wav') and abs(float(r['onset_s']) - 2) < 0.5 for r in rows[1:]), rows   # one per neighbourhood
    # a labels table of windows (as the label page writes it): a head on the stored vectors
    with open(tmp_path / 'labels.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['file', 'start_s', 'end_s', 'label'])
        w.writerows([(archive / 'rec' / 'rec3.wav', 2.0, 2.5, 'high'), (archive / 'rec' / 'rec1.wav', 1.0, 1.5, 'high'),
                     (archive / 'rec' / 'rec6.wav', 1.0, 1.5, 'high')]
                    + [(archive / 'rec' / f'rec{i}.wav', s, s + 0.5, 'other') for i in (0, 2, 4, 7) for s in (0.0, 3.0)])
    r = cli('train', idx, '--labels', tmp_path / 'labels.csv', '--head', 'prototype', '--valid-pct', 0.5, '--out', tmp_path / 'head')
    assert r.returncode == 0 and 'stored vectors' in r.stdout, r.stdout + r.stderr[-2000:]
    m = json.loads((tmp_path / 'head' / 'metrics.json').read_text())
    assert m['classes'] == ['high', 'other'] and m['embedder']['name'] == 'onnx:emb.onnx', m
    r = cli('classify', idx, tmp_path / 'head' / 'model.safetensors', '--events', '--background', 'other', '--format', 'raven', '--out', tmp_path / 'ev.txt')
    assert r.returncode == 0, r.stderr[-2000:]
    ev = list(csv.DictReader((tmp_path / 'ev.txt').read_text().splitlines(), delimiter='\t'))
    found = sorted((e['Begin File'], round(float(e['Begin Time (s)']))) for e in ev)
    assert {('rec1.wav', 1), ('rec3.wav', 2), ('rec6.wav', 1)} <= set(found) and len(found) <= 5, found
    # a head on other weights is refused in one line
    r = cli('classify', idx, archive / 'emb.onnx')
    assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr


@pytest.mark.slow
def test_the_label_page_saves_each_answer_at_once(archive, tmp_path):
    "In Debian's chromium: the candidate nearest to the query is labelled by a click, the next by a key; the server is killed; the table holds both."
    from playwright.sync_api import sync_playwright
    from test_serve import CHROMIUM, free_port
    idx, table = tmp_path / 'idx', tmp_path / 'labels.csv'
    r = cli('index', archive / 'rec', '--embedder', archive / 'emb.onnx', '--out', idx)
    assert r.returncode == 0, r.stderr[-2000:]
    port = free_port()
    log = open(tmp_path / 'server.log', 'w+')
    p = subprocess.Popen([sys.executable, '-c', CODE, 'label', str(idx), '--labels', str(table), '--classes', 'high,low', '--query',
                          str(archive / 'query.wav'), '--n', '3', '--port', str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        import urllib.request
        for _ in range(600):
            assert p.poll() is None, (log.seek(0), log.read()[-3000:])[1]
            try:
                if urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2).status == 200: break
            except OSError: time.sleep(0.2)
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--disable-background-networking'])
            page = b.new_page()
            page.goto(f'http://127.0.0.1:{port}/')
            shown = lambda k: page.wait_for_function(f"() => (document.querySelector('#candidate')?.innerText || '').includes('{k} of 3')", timeout=60000)
            shown(1)
            assert 'rec3.wav, 2.00-2.50 s' in page.locator('#candidate').inner_text()
            page.locator('#answer-1').click()   # high
            shown(2)
            page.keyboard.press('0')           # none of these
            shown(3)
            b.close()
    finally:
        p.kill()   # no clean stop: what was answered is already in the table
        p.wait(20)
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [(os.path.basename(r['file']), float(r['start_s']), r['label']) for r in rows][:1] == [('rec3.wav', 2.0, 'high')], rows
    assert len(rows) == 2 and rows[1]['label'] == 'none', rows


def _index_rows(idx):
    "Each window of an index (file name, start, end) with its vector, in key order."
    import sqlite3
    from usearch.index import Index
    db = sqlite3.connect(idx / 'windows.sqlite')
    rows = db.execute('select w.key, f.path, w.start_s, w.end_s from windows w join files f on f.id = w.file order by w.key').fetchall()
    v = Index(ndim=512, metric='cos', dtype='f32')
    v.load(str(idx / 'vectors.usearch'))
    return [(k, os.path.basename(p), s, e) for k, p, s, e in rows], np.stack([v.get(k) for k, *_ in rows])


def test_a_two_worker_cluster_writes_the_index_one_process_writes(archive, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    recs = sorted((archive / 'rec').glob('*.wav'))[:4]
    r = cli('index', *recs, '--embedder', archive / 'emb.onnx', '--out', one, '--device', 'cpu')
    assert r.returncode == 0 and '4 file(s) added' in r.stdout, r.stdout + r.stderr[-2000:]
    r = cli('index', *recs, '--embedder', archive / 'emb.onnx', '--out', two, '--cluster', 'local:2')
    assert r.returncode == 0 and '4 file(s) added' in r.stdout and '92 windows' in r.stdout, r.stdout + r.stderr[-2000:]
    (rows1, v1), (rows2, v2) = _index_rows(one), _index_rows(two)
    assert rows1 == rows2 and len(rows1) == 92
    np.testing.assert_allclose(v1, v2, atol=1e-5)
    r = cli('index', archive / 'rec', '--out', two, '--cluster', 'local:0')
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith("--cluster 'local:0': local:N needs a number of workers >= 1"), r.stderr[-2000:]


def test_device_cuda_is_refused_in_one_line_where_it_cannot_run(archive, tmp_path):
    import onnxruntime as ort
    r = cli('index', archive / 'rec', '--embedder', 'birdnet', '--out', tmp_path / 'idx', '--device', 'cuda')   # TFLite: never on CUDA
    assert r.returncode == 2 and 'BirdNET v2.4 runs on the CPU' in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]
    assert not (tmp_path / 'idx').exists()
    r = cli('embed', archive / 'emb.onnx', archive / 'query.wav', '--out', tmp_path / 'e.parquet', '--device', 'cuda')
    if 'CUDAExecutionProvider' in ort.get_available_providers(): assert r.returncode == 0, r.stderr[-2000:]   # onnxruntime-gpu
    else:
        assert r.returncode == 2 and 'device cuda: this onnxruntime has no CUDA provider' in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]
        assert not (tmp_path / 'e.parquet').exists()
