"""The losses of `fastaudio-lite train`'s first training batches, to show that a change of the code leaves training as
it was: `PYTHONPATH=TREE python scripts/train-steps.py DATA OUT [train options]`, once for each tree, then compare.

It runs the command with its defaults (and the options given) in one thread with deterministic kernels, and stops after
`K` training batches (environment, default 6; 0: the whole fit). It prints one line, `STEPS {json}`: the initial
weights' sum, the first batch's shape and sums and labels, each batch's loss, the validation accuracy written to
`OUT/metrics.json` and the exit code. `SEED_DLS=1` seeds the loaders for a tree whose command does not seed them."""
import json, os, sys
from pathlib import Path

import torch
from fastai.callback.core import Callback, CancelFitException
from fastai.learner import defaults

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
K = int(os.environ.get('K', 6))
rec = dict(losses=[])


class Steps(Callback):
    order = 100
    def before_fit(self):
        if 'weights' not in rec: rec['weights'] = float(sum(p.double().sum() for p in self.learn.model.parameters()))
    def after_batch(self):
        if not self.training: return
        if 'x' not in rec:
            x = self.learn.xb[0]
            rec['x'] = [list(x.shape), float(x.double().sum()), float(x.double().abs().sum())]
            rec['y'] = [int(v) for v in self.learn.yb[0][:16]]
        rec['losses'].append(round(float(self.learn.loss), 6))
        if K and len(rec['losses']) >= K: raise CancelFitException()


defaults.callbacks = list(defaults.callbacks) + [Steps]
if os.environ.get('SEED_DLS'):
    from fastai.data.block import DataBlock
    from fastai.torch_core import set_seed
    _dataloaders = DataBlock.dataloaders
    def dataloaders(self, *args, **kwargs):
        set_seed(42, reproducible=True)
        return _dataloaders(self, *args, **kwargs)
    DataBlock.dataloaders = dataloaders

from fastaudio_lite.cli import main

if __name__ == '__main__':
    data, out, *opts = sys.argv[1:]
    rec['exit'] = main(['train', data, '--out', out, '--force', *opts])
    m = Path(out) / 'metrics.json'
    if m.is_file(): rec['accuracy'] = json.loads(m.read_text())['accuracy']
    print('STEPS ' + json.dumps(rec))
