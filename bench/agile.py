"""Search and indexing for the agile-modelling loop (issue 54), on this machine's CPU.

- Search: each ESC-10 clip of fold 1 as the query against an index of folds 2-5 (BirdNET v2.4, 3-s windows 1.5 s
  apart): the precision of its 10 nearest windows (one per neighbourhood: the share from clips of the query's class),
  per class and overall.
- Throughput: hours of audio indexed per minute from the audio files, by BirdNET v2.4 and by a small fastaudio CNN
  exported to ONNX (`nets.SpecCNN`, 1-s windows at 16 kHz: the rate does not depend on its weights), the ESC-10 clips.
- Query time: 1,000,000 random unit vectors (`--n`) of 1,024 values (BirdNET's size) in a usearch index as `AudioIndex` makes
  it (cosine, f32, HNSW), the median of 100 queries for the 100 nearest.
Results are kept in bench/out/agile.json as they come, so a stopped run resumes.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, ROOT, md_table, write_result
from fastaudio_lite.datasets import esc_fold
from fastaudio_lite.decode import find_audio
from fastaudio_lite.index import AudioIndex

ESC10 = ROOT.parent / 'shared' / 'data' / 'esc10'


def small_cnn_onnx(path):
    "A SpecCNN on 1-s clips at 16 kHz exported to ONNX: an embedder whose speed is the library's, whatever its weights."
    import soundfile as sf
    from fastai.data.all import CategoryBlock, DataBlock
    from fastaudio_lite.data import AudioBlock, RegexSplitter
    from fastaudio_lite.export import export_onnx
    from fastaudio_lite.learner import audio_learner
    from fastaudio_lite.nets import SpecCNN
    from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB
    d = Path(tempfile.mkdtemp())
    files = []
    for i in range(8):
        f = d / f"{'ab'[i % 2]}_{i}.wav"
        sf.write(f, np.random.default_rng(i).normal(0, 0.1, 16000).astype(np.float32), 16000)
        files.append(f)
    dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=1.0), CategoryBlock), get_items=lambda _: files, get_y=lambda f: f.name[0],
                    splitter=RegexSplitter(r'_[67]\.wav$'), batch_tfms=[MelSpectrogram(n_mels=64), ToDB(), SpecNormalize()]).dataloaders('.', bs=4)
    export_onnx(audio_learner(dls, SpecCNN, pretrained=False), path)
    shutil.rmtree(d, ignore_errors=True)
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--n', type=int, default=1_000_000, help='random vectors in the query-time index (default 1,000,000)')
    a = p.parse_args()
    store = OUT / 'agile.json'
    OUT.mkdir(parents=True, exist_ok=True)
    res = json.loads(store.read_text()) if store.exists() else {}
    save = lambda: store.write_text(json.dumps(res, indent=1))
    files = find_audio(ESC10)
    work = Path(tempfile.mkdtemp())
    try:
        if 'search' not in res:
            t = time.time()
            idx = AudioIndex(work / 'esc', 'birdnet', hop_s=1.5)
            idx.add([f for f in files if esc_fold(f) != 1])
            rate = idx.seconds / 3600 / ((time.time() - t) / 60)
            per = {}
            for q in [f for f in files if esc_fold(f) == 1]:
                hits = idx.search([q], top=10)
                per.setdefault(Path(q).parent.name, []).append(np.mean([Path(h.file).parent.name == Path(q).parent.name for h in hits]))
            res['search'] = dict(per_class={c: float(np.mean(v)) for c, v in per.items()}, windows=len(idx), birdnet_hours_per_minute=rate)
            save()
        if 'cnn_rate' not in res:
            emb = small_cnn_onnx(work / 'cnn.onnx')
            t = time.time()
            idx = AudioIndex(work / 'cnn', emb, hop_s=0.5)
            idx.add(files)
            res['cnn_rate'] = dict(hours_per_minute=idx.seconds / 3600 / ((time.time() - t) / 60), windows=len(idx))
            save()
        if 'query_ms' not in res:
            from usearch.index import Index
            rng = np.random.default_rng(0)
            ix = Index(ndim=1024, metric='cos', dtype='f32')
            t = time.time()
            for i in range(0, a.n, 50_000):
                x = rng.standard_normal((min(50_000, a.n - i), 1024), dtype=np.float32)
                ix.add(np.arange(i, i + len(x), dtype=np.uint64), x / np.linalg.norm(x, axis=1, keepdims=True))
            build = time.time() - t
            qs = rng.standard_normal((100, 1024), dtype=np.float32)
            times = []
            for q in qs:
                t = time.perf_counter(); ix.search(q, 100); times.append((time.perf_counter() - t) * 1000)
            res['query_ms'] = dict(median=float(np.median(times)), p95=float(np.percentile(times, 95)), build_s=build, n=len(ix))
            save()
    finally: shutil.rmtree(work, ignore_errors=True)
    s = res['search']
    rows = [[c, f"{v:.3f}"] for c, v in sorted(s['per_class'].items())] + [['all classes', f"{np.mean(list(s['per_class'].values())):.3f}"]]
    q = res['query_ms']
    notes = (f"Indexing rate from the audio files: BirdNET v2.4 {s['birdnet_hours_per_minute']:.2f} h of audio a minute (3-s windows 1.5 s "
             f"apart, {s['windows']} windows), the small CNN {res['cnn_rate']['hours_per_minute']:.2f} h a minute (1-s windows 0.5 s apart, "
             f"{res['cnn_rate']['windows']} windows); the issue's aim is 5 h a minute with the fastest. Query time on {q['n']:,} vectors of 1,024 "
             f"values: median {q['median']:.1f} ms, 95th percentile {q['p95']:.1f} ms for the 100 nearest (aim: under 50 ms); building that "
             f"index took {q['build_s']:.0f} s{'' if q['n'] >= 1_000_000 else ' (a million vectors were not built in the time of this run: the aim is for a million)'}. "
             "The simulated labelling loop (event F1 after rounds of 20 labels) is not measured yet; the rates were measured with other work "
             "on the two cores.\n\n"
             + __doc__.split('\n\n', 1)[1].split('Results are kept')[0].strip())
    write_result('agile', 'Search by example and indexing (CPU)', md_table(['class (ESC-10 fold 1 queries)', 'precision of the 10 nearest'], rows), notes=notes)


if __name__ == '__main__':
    main()
