"""How a clip's BirdNET windows make its vector (issue 53's aim of 0.95 on ESC-10): windows 3 s apart (two per 5-s
clip, the last ending at the clip's end: the default), 1 s apart (four) and 0.5 s apart (six), pooled by their mean,
their maximum, or both side by side (2,048 values); a linear head and a head of 256 hidden units, seeds 42 and 43,
ESC-10's five folds. Results are kept in bench/out/embeddings_pooling.json as they come, so a stopped run resumes.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, ROOT, md_table, write_result
from embeddings import head_run
from imbalance import split
from fastaudio_lite.decode import find_audio
from fastaudio_lite.embed import BirdNetEmbedder, embed_files

HOPS, POOLS, HEADS = (None, 1.0, 0.5), ('mean', 'max', 'meanmax'), ('linear', 'mlp256')


def pool(v, how): return np.mean(v, 0) if how == 'mean' else np.max(v, 0) if how == 'max' else np.concatenate([np.mean(v, 0), np.max(v, 0)])


def wall_command(data):
    """`fastaudio-lite cv DATA --embedder birdnet --pool meanmax --embed-hop 0.5` run with an empty embedding cache: its
    wall seconds, its five-fold accuracy and the machine's load average (1 minute) before it started."""
    import os, shutil, subprocess, tempfile
    tmp = Path(tempfile.mkdtemp())
    try:
        load = os.getloadavg()[0]
        t = time.time()
        subprocess.run([str(Path(sys.executable).parent / 'fastaudio-lite'), 'cv', str(data), '--embedder', 'birdnet', '--pool', 'meanmax',
                        '--embed-hop', '0.5', '--out', str(tmp / 'out')], env={**os.environ, 'XDG_CACHE_HOME': str(tmp / 'cache')},
                       check=True, capture_output=True)
        wall = time.time() - t
        acc = json.loads((tmp / 'out' / 'cv.json').read_text())
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return dict(seconds=round(wall, 1), accuracy=acc, load_before=round(load, 2))


def main():
    files = find_audio(ROOT.parent / 'shared' / 'data' / 'esc10')
    label = lambda f: Path(f).parent.name
    store = OUT / 'embeddings_pooling.json'
    OUT.mkdir(parents=True, exist_ok=True)
    res = json.loads(store.read_text()) if store.exists() else {}
    emb = BirdNetEmbedder()
    for hop in HOPS:
        todo = [f"{hop}/{p}/{h}" for p in POOLS for h in HEADS if f"{hop}/{p}/{h}" not in res]
        if not todo: continue
        rows = {}
        for e in embed_files(emb, files, windows=True, hop_s=hop, cache=True):   # the default cache: a rerun embeds nothing
            rows.setdefault(e.file, []).append(e.vector)
        res[f"{hop}/windows"] = round(float(np.mean([len(v) for v in rows.values()])), 2)
        for key in todo:
            how, head = key.split('/')[1:]
            vec = {f: pool(v, how).astype(np.float32) for f, v in rows.items()}
            res[key] = [float(np.mean([head_run(vec, *split(files, k, True), label, head, seed)['accuracy'] for k in range(1, 6)])) for seed in (42, 43)]
            store.write_text(json.dumps(res, indent=1))
            print(key, res[key], flush=True)
    for key in ('None/mean/linear', '0.5/meanmax/linear'):   # two more seeds for the default and the best of the first two
        if f"{key}/more" in res: continue
        hop, how, head = key.split('/')
        rows = {}
        for e in embed_files(emb, files, windows=True, hop_s=None if hop == 'None' else float(hop), cache=True):
            rows.setdefault(e.file, []).append(e.vector)
        vec = {f: pool(v, how).astype(np.float32) for f, v in rows.items()}
        res[f"{key}/more"] = [float(np.mean([head_run(vec, *split(files, k, True), label, head, seed)['accuracy'] for k in range(1, 6)])) for seed in (44, 45)]
        store.write_text(json.dumps(res, indent=1))
    if 'wall_command' not in res:   # the command from the audio files, with an empty cache: every window embedded, then five heads
        res['wall_command'] = wall_command(ROOT.parent / 'shared' / 'data' / 'esc10')
        store.write_text(json.dumps(res, indent=1))
    table = [[f"{'3 (default)' if hop is None else hop}", res[f"{hop}/windows"], how, head, ' / '.join(f"{a:.4f}" for a in res[f"{hop}/{how}/{head}"]),
              f"{np.mean(res[f'{hop}/{how}/{head}']):.4f}"] for hop in HOPS for how in POOLS for head in HEADS if f"{hop}/{how}/{head}" in res]
    four = {k: res[k] + res[f"{k}/more"] for k in ('None/mean/linear', '0.5/meanmax/linear')}
    w = res['wall_command']
    notes = (f"Four seeds (42-45): the default (windows 3 s apart, their mean, a linear head) {np.mean(four['None/mean/linear']):.4f} "
             f"({', '.join(f'{a:.4f}' for a in four['None/mean/linear'])}); windows 0.5 s apart, their mean and maximum side by side, a linear "
             f"head {np.mean(four['0.5/meanmax/linear']):.4f} ({', '.join(f'{a:.4f}' for a in four['0.5/meanmax/linear'])}): the issue's aim of "
             f"0.95 {'met' if np.mean(four['0.5/meanmax/linear']) >= 0.95 else 'not met'} by the second. It was chosen as the best of the 18 "
             "settings above, whose two-seed rows lie within 0.0125 of each other (5 clips of 400); on the two further seeds it stayed above the "
             "default by 7 and 4 clips of 400: a small gain, the same on four seeds, from a choice made on the first two. The command "
             "`fastaudio-lite cv ESC10 --embedder birdnet --pool meanmax --embed-hop 0.5`, from the audio files with an empty embedding "
             f"cache (2,400 windows embedded, then five folds' heads), took {w['seconds']:.0f} s of wall time (load average "
             f"{w['load_before']:.2f} before it started) and gave accuracy {w['accuracy']['accuracy']['mean']:.4f} ± "
             f"{w['accuracy']['accuracy']['std']:.4f}, macro-F1 {w['accuracy']['macro_f1']['mean']:.4f}: the issue's aim, 0.95 in under 3 "
             f"minutes, {'met' if w['seconds'] < 180 and w['accuracy']['accuracy']['mean'] >= 0.95 else 'not met'}. The default stays the mean "
             "of windows a window apart. " + ' '.join(__doc__.split('\n\n', 1)[0].split()))
    write_result('embeddings_pooling', 'Heads on frozen embeddings: windows and pooling (ESC-10, BirdNET v2.4, CPU)',
                 md_table(['seconds between windows', 'windows per clip', 'pooling', 'head', 'accuracy (seeds 42 / 43)', 'mean'], table), notes=notes)


if __name__ == '__main__':
    main()
