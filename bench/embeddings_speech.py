"""Heads on frozen embeddings for spoken words (issue 53): FSDD leave-one-speaker-out and Speech Commands' held-out
speakers, a linear head (seeds 42 and 43) on BirdNET v2.4's embeddings and on the embeddings of a fastaudio model
trained on the other data set (the speech recipe, resnet18 from random weights, `--epochs` epochs: trained on Speech
Commands for FSDD, on FSDD for Speech Commands), beside the from-scratch speech recipe's figures (bench/recipes.py).
The wall time counts from the audio files, every clip embedded with an empty cache. Results are kept in
bench/out/embeddings_speech.json as they come, so a stopped run resumes.
"""
import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, ROOT, md_table, write_result
from embeddings import head_run, vectors
from fastaudio_lite.dataloaders import AudioDataLoaders
from fastaudio_lite.datasets import layout_split
from fastaudio_lite.decode import find_audio
from fastaudio_lite.embed import BirdNetEmbedder, LearnerEmbedder
from fastaudio_lite.recipes import train

DATA = ROOT.parent / 'shared' / 'data'
RECIPES = json.loads((Path(__file__).parent / 'results' / 'recipes.json').read_text())


def splits(name, files):
    "`[(what, train, valid)]`: FSDD's five leave-one-speaker-out splits, or Speech Commands' held-out speakers (the layout's)."
    if name == 'fsdd':
        spk = lambda f: re.match(r'^\d_([a-z]+)_', Path(f).name)[1]
        return [(s, [f for f in files if spk(f) != s], [f for f in files if spk(f) == s]) for s in sorted({spk(f) for f in files})]
    tr, va = layout_split(files)[0](files)
    return [('speakers', [files[i] for i in tr], [files[i] for i in va])]


def model_on(name, epochs, out, export=False):
    """A fastaudio model (the speech recipe, resnet18, random weights) trained on data set `name`, and the seconds it took;
    with `export`, its model.pkl is written to `out` as well."""
    t = time.time()
    if name == 'fsdd': dls = AudioDataLoaders.from_name_re(DATA / 'fsdd', None, r'^(\d)_', seed=42)
    else: dls = AudioDataLoaders.from_folder(DATA / 'speech_commands12', seed=42)
    learn, _ = train(dls, 'resnet18', epochs, None, out, 42, pretrained=False, export=export)
    return learn, time.time() - t


def scratch(name):
    "The speech recipe's from-scratch accuracy (60 epochs, two seeds where run) from bench/results/recipes.json."
    if name == 'fsdd':
        rows = RECIPES['fsdd|mixavg|42|60']
        return np.mean([rows[s]['accuracy'] for s in rows if s != 'official']), 'seed 42'
    return np.mean([RECIPES[f'sc12|mixavg|{s}|60']['speakers']['accuracy'] for s in (42, 43)]), 'seeds 42, 43'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=5, help="epochs of the other data set's model (default 5)")
    a = p.parse_args()
    store = OUT / 'embeddings_speech.json'
    OUT.mkdir(parents=True, exist_ok=True)
    res = json.loads(store.read_text()) if store.exists() else {}
    files = {'fsdd': find_audio(DATA / 'fsdd'), 'sc12': find_audio(DATA / 'speech_commands12')}
    label = {'fsdd': lambda f: Path(f).name[0], 'sc12': lambda f: Path(f).parent.name}
    other = {'fsdd': 'sc12', 'sc12': 'fsdd'}
    cache = Path(tempfile.mkdtemp())
    try:
        for name in ('fsdd', 'sc12'):
            for emb_name in ('birdnet', f'fastaudio:{other[name]}'):
                key = f"{name}/{emb_name}"
                if key in res: continue
                t = time.time()
                if emb_name == 'birdnet': emb, train_s = BirdNetEmbedder(), 0.
                else:
                    learn, train_s = model_on(other[name], a.epochs, OUT / f'embedder_{other[name]}')
                    emb = LearnerEmbedder(learn)
                vec, embed_s = vectors(emb, files[name], cache)
                rows = {f"{what}/{seed}": head_run(vec, tr, va, label[name], 'linear', seed)
                        for what, tr, va in splits(name, files[name]) for seed in (42, 43)}
                res[key] = dict(rows=rows, embed_seconds=round(embed_s, 1), model_seconds=round(train_s, 1), clips=len(files[name]),
                                wall_seconds=round(time.time() - t, 1))
                store.write_text(json.dumps(res, indent=1))
                print(key, {k: v['accuracy'] for k, v in rows.items()}, flush=True)
    finally: shutil.rmtree(cache, ignore_errors=True)
    table = []
    names = {'fsdd': 'FSDD, leave-one-speaker-out (5 speakers)', 'sc12': "Speech Commands (12 classes), held-out speakers"}
    for name in ('fsdd', 'sc12'):
        for emb_name in ('birdnet', f'fastaudio:{other[name]}'):
            r = res[f"{name}/{emb_name}"]
            acc = {s: np.mean([v['accuracy'] for k, v in r['rows'].items() if k.endswith(f'/{s}')]) for s in (42, 43)}
            f1 = {s: np.mean([v['macro_f1'] for k, v in r['rows'].items() if k.endswith(f'/{s}')]) for s in (42, 43)}
            how = 'BirdNET v2.4' if emb_name == 'birdnet' else f"fastaudio resnet18 trained {a.epochs} epochs on {'FSDD' if other[name] == 'fsdd' else 'Speech Commands'}"
            table.append([names[name], f"a linear head on {how}", f"{acc[42]:.4f} / {acc[43]:.4f}", f"{f1[42]:.4f} / {f1[43]:.4f}",
                          f"{r['wall_seconds']:.0f} s (model {r['model_seconds']:.0f}, embedding {r['embed_seconds']:.0f})"])
        acc, seeds = scratch(name)
        table.append([names[name], f"the speech recipe from scratch (60 epochs, {seeds})", f"{acc:.4f}", '', 'about 45-55 s an epoch: 45-55 min a run'])
    t = md_table(['data', 'model', 'accuracy (seeds 42 / 43)', 'macro-F1 (42 / 43)', 'wall time from the audio files'], table)
    notes = ("FSDD's figure is the mean over its five speakers, each held out in turn (500 clips) after training on the other four; "
             "Speech Commands' held-out speakers are the layout's split (about 20% of the speakers by hash of the id: 559 clips). "
             "The from-scratch rows are the speech recipe (`mixavg`, 60 epochs) of 'Training recipes on real recordings'. "
             "BirdNET, a bird model, knows little of spoken digits and words: a small model trained for minutes on the other "
             "spoken set does better, and both stay well below a recipe trained on the words themselves, whose hour of "
             "training the embeddings save. The wall times were measured with other work on the two cores (three to four "
             "processes): alone they are about half. "
             + ' '.join(__doc__.split('\n\n', 1)[0].split(': ', 1)[1].split()))
    write_result('embeddings_speech', 'Heads on frozen embeddings: spoken words (CPU)', t, notes=notes)


if __name__ == '__main__':
    main()
