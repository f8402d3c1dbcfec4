"""Imbalanced classes (issue 43): a long-tailed ESC-10, with and without the balancing default, five folds, two seeds.

ESC-10's official folds, each held out in turn and validated whole (80 clips, 8 per class). The training folds keep
one class whole (`001 - Dog bark`, 32 clips) and cut each of the other nine to `SMALL` clips (6, the same ones for
every setting and seed): 86 training clips, 32 to 6. The sound recipe (`recipe_for`: 5 s at 22,050 Hz, resnet18 from
random weights, 60 epochs), with `balance` 'none', 'loss' or 'sampler', or 'focal' (no balancing, fastai's
`FocalLossFlat(gamma=2)` in place of the recipe's label-smoothed cross-entropy: measured before the library offers it);
and the balanced ESC-10 (all 320 training clips) with the same recipe, as the aim's reference. Each run appends a
line to bench/out/imbalance.jsonl (or $OUT/imbalance.jsonl), so an interrupted run resumes and a short machine returns
what it finished.

    python bench/imbalance.py [--data DIR] [--seeds 42,43] [--settings none,loss,sampler,focal,balanced] [--epochs 60] [--report]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, machine, md_table, write_result
from fastai.data.all import FuncSplitter, parent_label
from fastai.interpret import ClassificationInterpretation
from fastai.losses import FocalLossFlat
from fastaudio_lite.callbacks import class_report
from fastaudio_lite.datasets import esc_fold
from fastaudio_lite.decode import find_audio
from fastaudio_lite.recipes import recipe_for

KEEP, SMALL = '001 - Dog bark', 6


def split(files, fold, balanced):
    "Training and validation files for `fold`: the training folds long-tailed (unless `balanced`), the fold whole."
    valid = [f for f in files if esc_fold(f) == fold]
    train = [f for f in files if esc_fold(f) != fold]
    if not balanced:
        rng = np.random.default_rng(0)
        by = {}
        for f in train: by.setdefault(Path(f).parent.name, []).append(f)
        train = [f for c, fs in sorted(by.items()) for f in (fs if c == KEEP else list(rng.permutation(fs)[:SMALL]))]
    return train, valid


def run(files, fold, setting, seed, epochs, cache):
    balanced = setting == 'balanced'
    train, valid = split(files, fold, balanced)
    r = recipe_for(train, 'sound').but(pretrained=False, epochs=epochs,
                                       balance='auto' if balanced else 'none' if setting == 'focal' else setting)
    vset = set(valid)
    dls = r.dataloaders(Path(files[0]).parents[1], items=train + valid, get_y=parent_label,
                        splitter=FuncSplitter(lambda f: f in vset), cache=cache, seed=seed,
                        num_workers=0)   # the cache reads a clip in microseconds: workers would only add their start-up each epoch
    if torch.cuda.is_available(): dls.cuda()
    learn = r.learner(dls)
    if setting == 'focal': learn.loss_func = FocalLossFlat(gamma=2.)
    t = time.time()
    with learn.no_bar(), learn.no_logging(): r.fit(learn)
    cm = ClassificationInterpretation.from_learner(learn).confusion_matrix()
    rep = class_report(cm, list(map(str, dls.vocab)))
    return dict(fold=fold, setting=setting, seed=seed, epochs=epochs, balance=r.balance_for(dls), n_train=len(train),
                accuracy=round(float(np.trace(cm) / cm.sum()), 4), balanced_accuracy=rep['balanced_accuracy'],
                macro_f1=rep['macro_f1'], useless=rep['useless'], seconds=round(time.time() - t, 1))


def report(rows):
    from collections import defaultdict
    by = defaultdict(dict)
    for r in rows: by[(r['setting'], r['seed'])][r['fold']] = r
    table = []
    for (setting, seed), folds in sorted(by.items()):
        f1 = [folds[k]['macro_f1'] for k in sorted(folds)]
        ba = [folds[k]['balanced_accuracy'] for k in sorted(folds)]
        table.append([setting, seed, ' / '.join(f"{v:.3f}" for v in f1), f"{np.mean(f1):.3f}", f"{np.mean(ba):.3f}",
                      f"{len(folds)} of 5", f"{np.mean([folds[k]['seconds'] for k in folds]):.0f}"])
    return md_table(['setting', 'seed', 'macro-F1 per fold', 'macro-F1 mean', 'balanced accuracy mean', 'folds', 's/run'], table)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'esc10'))
    p.add_argument('--seeds', default='42,43')
    p.add_argument('--settings', default='none,loss,sampler,focal,balanced')
    p.add_argument('--folds', default='1,2,3,4,5')
    p.add_argument('--epochs', type=int, default=60)
    p.add_argument('--report', action='store_true')
    a = p.parse_args()
    out = Path(os.environ.get('OUT') or ROOT / 'bench' / 'out') / 'imbalance.jsonl'
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
    if not a.report:
        files = find_audio(a.data)
        cache = Path(tempfile.gettempdir()) / 'fastaudio-bench-waves'   # decoded once; outside $OUT, which travels back
        print(machine(), flush=True)
        for seed in map(int, a.seeds.split(',')):
            for fold in map(int, a.folds.split(',')):
                for setting in a.settings.split(','):
                    if any((r['fold'], r['setting'], r['seed'], r['epochs']) == (fold, setting, seed, a.epochs) for r in rows): continue
                    row = run(files, fold, setting, seed, a.epochs, cache)
                    rows.append(row)
                    with open(out, 'a') as fh: fh.write(json.dumps(row) + '\n')
                    print(json.dumps(row), flush=True)
    write_result('imbalance', 'Imbalanced classes: a long-tailed ESC-10', report(rows),
                 command='python bench/imbalance.py (on the GPU machine: scripts/gpu-imbalance)')


if __name__ == '__main__':
    main()
