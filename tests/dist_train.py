"""Run under `torchrun --nproc_per_node N tests/dist_train.py OUT BS EPOCHS [BROKEN_FILES...]` by tests/test_distributed.py: train SpecCNN on a
small FSDD subset inside `learn.distrib_ctx()`, recording which items each rank saw in each epoch, and write each rank's
final weights, its SpecNormalize statistics and the validation accuracy to OUT."""
import json
import sys
from pathlib import Path

import torch
from fastai.data.all import CategoryBlock, DataBlock
from fastai.metrics import accuracy
from fastai.torch_core import num_distrib, rank_distrib, set_seed

from fastaudio_lite.data import AudioBlock, NameLabeller, RegexSplitter
from fastaudio_lite.distributed import DistributedAudioDL
from fastaudio_lite.nets import SpecCNN
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB

FSDD = Path(__file__).resolve().parent / 'data' / 'fsdd' / 'recordings'
out, bs, epochs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
extra = [Path(p) for p in sys.argv[4:]]
out.mkdir(parents=True, exist_ok=True)
rank = rank_distrib()
files = sorted(f for f in FSDD.glob('*.wav') if f.name[0] in '0123') + extra

seen = []
get_idxs = DistributedAudioDL.get_idxs
def logged(self):
    idxs = get_idxs(self)
    if self.dataset.split_idx == 0: seen.append(sorted(idxs))
    return idxs
DistributedAudioDL.get_idxs = logged  # instrumentation for the test only

set_seed(42, reproducible=True)
dls = DataBlock(blocks=(AudioBlock(sr=8000, duration=1.0), CategoryBlock), get_items=lambda _: files,
                get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(r'_[0-4]\.wav$'),
                batch_tfms=[MelSpectrogram(n_fft=256, hop_length=80, n_mels=32), ToDB(), SpecNormalize()]).dataloaders(FSDD, bs=bs, num_workers=0)
learn = audio_learner(dls, SpecCNN, metrics=accuracy)
with learn.distrib_ctx(): learn.fit_one_cycle(epochs, 3e-3)
acc = float(learn.validate()[1])
norm = next(t for t in dls.train.after_batch.fs if isinstance(t, SpecNormalize))
torch.save({k: v.cpu() for k, v in learn.model.state_dict().items()}, out / f'weights{rank}.pt')
(out / f'rank{rank}.json').write_text(json.dumps(dict(world=num_distrib(), seen=seen, accuracy=acc, n_train=len(dls.train_ds),
                                                      mean=norm.mean.tolist(), std=norm.std.tolist())))
