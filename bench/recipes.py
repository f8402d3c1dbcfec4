"""Training recipes on real recordings (issue 14): ESC-10 by official fold, Speech Commands (12 classes) by held-out
speaker, FSDD official split and leave-one-speaker-out, all from random weights (nothing can be downloaded here).

A recipe is the command's pipeline (`fastaudio_lite.cli.build_dls` and `train`'s learner) with some pieces changed:

- `base`: what `fastaudio-lite train` did before this benchmark: noise and time shift, plain cross-entropy;
- `aug`: + SpecAugment;
- `mix`: `aug` + mixup (alpha 0.4) + label smoothing 0.1: the recipe now in `fastaudio_lite.learner.recipes`;
- `hop512`: `mix` with a 23 ms hop for ESC-10 (half the frames of a 12 ms hop);
- `aug_hop512`: `aug` with the 23 ms hop;
- `speccnn_hop512`: `hop512` with the small SpecCNN instead of resnet18.

Every run also reports test-time augmentation (`learn.tta`, 4 augmented passes) beside the plain accuracy.
Results are saved per run in bench/out/recipes.json, so an interrupted run resumes.

    .venv/bin/python bench/recipes.py --data esc10 --recipes base mix --folds 1 2 3 4 5 --seeds 42 43 [--epochs 30]
    .venv/bin/python bench/recipes.py --data sc12 --recipes base mix --seeds 42 43
    .venv/bin/python bench/recipes.py --data fsdd --recipes mix --folds official george jackson lucas nicolas yweweler
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np
from common import FSDD, OUT, SPEAKERS, md_table, write_result

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'
PATHS = {'esc10': DATA / 'esc10', 'sc12': DATA / 'speech_commands12', 'fsdd': FSDD}
DEFAULT_FOLDS = {'esc10': ['1', '2', '3', '4', '5'], 'sc12': ['speakers'], 'fsdd': ['official', *SPEAKERS]}
RECIPES = {
    'base': dict(augment='noise shift', mixup=0., label_smoothing=0.),
    'aug': dict(augment='noise shift specaug', mixup=0., label_smoothing=0.),
    'mix': dict(),
    'hop512': dict(hop=512),
    'aug_hop512': dict(augment='noise shift specaug', mixup=0., label_smoothing=0., hop=512),
    'speccnn_hop512': dict(arch='SpecCNN', hop=512),
}
STORE = 'recipes'


def run(data, fold, name, seed, epochs):
    import torch
    from fastaudio_lite import cli
    from fastaudio_lite.learner import recipe
    r = RECIPES[name]
    split = {'esc10': f'esc:{fold}', 'sc12': 'speakers'}.get(data, 'fsdd' if fold == 'official' else None)
    valid_re = rf'^\d_{fold}_' if data == 'fsdd' and fold != 'official' else None
    kind = 'speech' if data != 'esc10' else 'sound'
    rec = {**recipe(kind), **r}
    t = time.time()
    dls = cli.build_dls(PATHS[data], split=split, valid_re=valid_re, bs=32, seed=seed, kind=kind, augment=rec['augment'],
                        hop_length=r.get('hop'), cache=True)
    learn, _ = cli.train(dls, r.get('arch', 'resnet18'), epochs, 1e-2, OUT / 'recipes_model', seed, pretrained=False,
                         mixup=rec['mixup'], label_smoothing=rec['label_smoothing'], export=False)
    fit_s = time.time() - t
    with learn.no_bar(), learn.no_logging():
        p, y = learn.get_preds()
        pt, _ = learn.tta(n=4)
    acc, tta = float((p.argmax(1) == y).float().mean()), float((pt.argmax(1) == y).float().mean())
    return dict(accuracy=round(acc, 4), tta=round(tta, 4), s_per_epoch=round(fit_s / epochs, 1), epochs=epochs,
                n_train=len(dls.train_ds), n_valid=len(dls.valid_ds), threads=torch.get_num_threads())


def load():
    f = OUT / f'{STORE}.json'
    return json.loads(f.read_text()) if f.exists() else {}


def key(data, name, seed, epochs): return f"{data}|{name}|{seed}|{epochs}"


def report():
    res = load()
    sections = []
    for data, title in [('esc10', 'ESC-10, five official folds'), ('sc12', 'Speech Commands (12 classes), held-out speakers'),
                        ('fsdd', 'FSDD, official split and leave-one-speaker-out')]:
        rows, folds = [], DEFAULT_FOLDS[data]
        for k, v in sorted(res.items()):
            d, name, seed, epochs = k.split('|')
            if d != data: continue
            cells = [v.get(f) for f in folds]
            fmt = lambda c: '-' if c is None else f"{c['accuracy']:.3f} ({c['tta']:.3f})"
            done = [c for c in cells if c]
            if data == 'fsdd':
                loso = [c for f, c in zip(folds, cells) if c and f != 'official']
                mean = f"{np.mean([c['accuracy'] for c in loso]):.3f} ({np.mean([c['tta'] for c in loso]):.3f})" if len(loso) == 5 else '-'
            else:
                mean = f"{np.mean([c['accuracy'] for c in done]):.3f} ({np.mean([c['tta'] for c in done]):.3f})" if len(done) == len(folds) else '-'
            spe = f"{np.mean([c['s_per_epoch'] for c in done]):.1f}" if done else '-'
            rows.append([name, seed, epochs, *map(fmt, cells), mean, spe])
        if not rows: continue
        head = ['recipe', 'seed', 'epochs', *(f"fold {f}" if data == 'esc10' else f for f in folds),
                'LOSO mean' if data == 'fsdd' else 'mean', 's/epoch']
        sections.append(f"### {title}\n\n{md_table(head, rows)}")
    notes = ("Accuracy on the validation fold or speakers, and in brackets with test-time augmentation (`learn.tta(n=4)`: the mean of "
             "four augmented passes blended with the plain one). 's/epoch' includes the validation pass; every run shares 2 "
             "CPU cores, so it is a rough guide. Recipes: " + '; '.join(f"`{k}` {v}" for k, v in RECIPES.items()) + ".")
    write_result(STORE, 'Training recipes on real recordings (from random weights)', '\n\n'.join(sections), notes,
                 command='.venv/bin/python bench/recipes.py --data esc10|sc12|fsdd --recipes ... --seeds ...')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', choices=tuple(PATHS), default='esc10')
    p.add_argument('--recipes', nargs='+', default=['mix'])
    p.add_argument('--folds', nargs='+', default=None)
    p.add_argument('--seeds', nargs='+', type=int, default=[42])
    p.add_argument('--epochs', type=int, default=None)
    p.add_argument('--threads', type=int, default=None, help='torch threads (to run two benchmarks side by side)')
    p.add_argument('--report', action='store_true', help='only rewrite bench/out/recipes.md from the saved results')
    a = p.parse_args()
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    if not a.report:
        from fastaudio_lite.learner import recipe
        for seed in a.seeds:
            for name in a.recipes:
                epochs = a.epochs or recipe('sound' if a.data == 'esc10' else 'speech')['epochs']
                for fold in a.folds or DEFAULT_FOLDS[a.data]:
                    k = key(a.data, name, seed, epochs)
                    if fold in load().get(k, {}): continue
                    out = run(a.data, fold, name, seed, epochs)
                    res = load()
                    res.setdefault(k, {})[fold] = out
                    (OUT / f'{STORE}.json').write_text(json.dumps(res, indent=1))
                    print(k, fold, out, flush=True)
    report()


if __name__ == '__main__':
    main()
