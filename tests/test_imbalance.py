"Issue 43: imbalanced classes reported honestly (the warning, balanced accuracy, macro-F1, per-class figures) and balanced."
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from fastai.callback.core import Callback
from fastai.data.all import RandomSplitter
from fastai.callback.data import WeightedDL
from fastai.losses import LabelSmoothingCrossEntropyFlat
from fastaudio_lite.callbacks import balanced, class_counts
from fastaudio_lite.data import AudioDataLoader
from fastaudio_lite.errors import ArgumentError
from fastaudio_lite.core import get_audio_files
from fastaudio_lite.recipes import recipe


@pytest.fixture(scope='module')
def tones(tmp_path_factory):
    "Three classes of tones in noise at 8 kHz: 'low' 48 clips, 'mid' and 'high' 8 each (6 to 1)."
    d = tmp_path_factory.mktemp('tones')
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    for label, f0, n in (('low', 300, 48), ('mid', 900, 8), ('high', 2400, 8)):
        (d / label).mkdir()
        for i in range(n):
            x = 0.3 * np.sin(2 * np.pi * f0 * rng.uniform(0.9, 1.1) * t) + rng.normal(0, 0.02, t.size)
            sf.write(d / label / f'{label}_{i}.wav', x.astype(np.float32), 8000)
    return d


def test_the_command_warns_and_reports_balanced_figures(tones, tmp_path):
    r = subprocess.run([sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())', 'train', str(tones),
                        '--arch', 'SpecCNN', '--no-pretrained', '--epochs', '2', '--bs', '8', '--valid-pct', '0.25', '--out', str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "warning: imbalanced classes: 'low' " in r.stderr and 'training samples the classes evenly (balance sampler)' in r.stderr, r.stderr
    assert 'balanced_accuracy' in r.stdout and 'macro_f1' in r.stdout   # in the epoch table
    m = json.loads((tmp_path / 'metrics.json').read_text())
    assert m['balance'] == 'sampler' and 0 <= m['balanced_accuracy'] <= 1 and 0 <= m['macro_f1'] <= 1
    assert set(m['per_class']) == {'low', 'mid', 'high'} and sum(c['support'] for c in m['per_class'].values()) == m['n_valid']
    assert set(m['per_class']['mid']) == {'precision', 'recall', 'f1', 'support'}


class Seen(Callback):
    "What training saw: the loss's class weights and the classes of the clips an epoch draws."
    order = 99
    def before_train(self):
        self.weight = getattr(self.learn.loss_func.func, 'weight', None)
        ys = np.array([int(self.dls.train_ds.tls[1][i]) for i in range(len(self.dls.train_ds))])
        self.drawn = np.bincount(ys[self.dls.train.get_idxs()], minlength=len(self.dls.vocab))


@pytest.mark.parametrize('balance', ['none', 'loss', 'sampler', 'auto'])
def test_balance_changes_the_loss_or_the_sampler(tones, balance):
    r = recipe('speech', sr=8000, duration=0.5, arch='SpecCNN', pretrained=False, epochs=1, bs=8, balance=balance, augment={}, mixup=0., average=0.)
    dls = r.dataloaders(tones, items=get_audio_files(tones), splitter=RandomSplitter(0.25, seed=0))
    counts = class_counts(dls)
    seen = Seen()
    learn = r.learner(dls, cbs=seen)
    sampled = balance in ('sampler', 'auto')   # auto: the sampler for these 6-to-1 classes (recipes.auto_balance)
    assert isinstance(learn.dls.train, WeightedDL) == sampled and type(dls.train) is AudioDataLoader   # the user's loaders as they were
    assert learn.dls.valid is dls.valid
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    if balance == 'loss':
        w = seen.weight.cpu().numpy()
        assert np.allclose(w * counts, counts.sum() / len(counts))   # each class weighs the same in the loss
        assert learn.loss_func.func.weight is not None                # built with the learner, not set during fit
    else: assert seen.weight is None
    if sampled: assert seen.drawn.min() >= 0.5 * seen.drawn.max(), seen.drawn   # about even, drawn with replacement
    else: assert (seen.drawn == counts).all()


def test_balanced_leaves_its_arguments_as_they_were(tones):
    "balanced copies: the loss it is given keeps no weights, the loaders keep their class, and a bad mode is named."
    r = recipe('speech', sr=8000, duration=0.5, bs=8)
    dls = r.dataloaders(tones, items=get_audio_files(tones), splitter=RandomSplitter(0.25, seed=0))
    lf = LabelSmoothingCrossEntropyFlat(eps=0.1)
    got, weighted = balanced(dls, 'loss', lf)
    assert got is dls and lf.func.weight is None and weighted.func.eps == 0.1
    assert np.allclose(weighted.func.weight.numpy() * class_counts(dls), len(dls.train_ds) / 3)
    other, same = balanced(dls, 'sampler', lf)
    assert same is lf and isinstance(other.train, WeightedDL) and not isinstance(dls.train, WeightedDL)
    assert len(other.train_ds) == len(dls.train_ds) and other.vocab == dls.vocab
    with pytest.raises(ArgumentError, match="balance 'loss' needs a cross-entropy"): balanced(dls, 'loss', lambda x, y: 0)
    with pytest.raises(ArgumentError, match='balance must be one of'): balanced(dls, 'even', None)


def test_auto_is_the_sampler_and_the_loss_under_torchrun(tones, monkeypatch):
    "The sampler runs in one process only (balanced refuses it under torchrun): 'auto' weighs the loss there."
    import fastaudio_lite.recipes as rc
    r = recipe('speech', sr=8000, duration=0.5, bs=8)
    dls = r.dataloaders(tones, items=get_audio_files(tones), splitter=RandomSplitter(0.25, seed=0))
    assert r.balance_for(dls) == 'sampler' and r.but(balance='loss').balance_for(dls) == 'loss'
    monkeypatch.setattr(rc, 'num_distrib', lambda: 2)
    assert r.balance_for(dls) == 'loss' and r.but(balance='none').balance_for(dls) == 'none'
