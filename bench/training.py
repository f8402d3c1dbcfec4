"""Training throughput (issue 6): samples per second for resnet18, SpecCNN and WaveCNN on one-second clips.

16 kHz clips; the spectrogram models get 64 mels x 101 frames (10 ms hop) computed on the fly; WaveCNN gets the raw
16,000 samples. Timed over a few training batches after a warm-up, data loading included, on the machine's threads.
"""
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, md_table, write_result
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
from fastai.callback.core import Callback, CancelFitException
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.nets import SpecCNN, WaveCNN
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB

files = sorted(FSDD.glob('*.wav'))[:640]
BS, WARM, N = 32, 2, 8


class Timer(Callback):
    def before_fit(self): self.n, self.t = 0, None
    def after_batch(self):
        self.n += 1
        if self.n == WARM: self.t = time.perf_counter()
        if self.n == WARM + N:
            self.rate = N * BS / (time.perf_counter() - self.t)
            raise CancelFitException()


def rate(arch, tfms, device):
    dblock = DataBlock(blocks=(AudioBlock(sr=16000), CategoryBlock), get_items=lambda _: files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(0.1, seed=0), batch_tfms=tfms)
    dls = dblock.dataloaders(FSDD, bs=BS, num_workers=0, device=device)
    timer = Timer()
    learn = audio_learner(dls, arch, pretrained=False, cbs=timer)
    learn.fit(1, 1e-3)
    return timer.rate


mel = lambda: [MelSpectrogram(n_fft=512, win_length=400, hop_length=160, n_mels=64), ToDB(), SpecNormalize()]
devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
rates = {name: [rate(arch, tfms(), d) for d in devices]
         for name, arch, tfms in (('resnet18 (timm, 1 channel)', 'resnet18', mel), ('SpecCNN', SpecCNN, mel),
                                  ('WaveCNN (raw 16 kHz)', WaveCNN, lambda: []))}
base = rates['resnet18 (timm, 1 channel)'][0]
rows = [[name] + [f"{x:,.0f}" for x in r] + [f"{r[0] / base:.1f}"] for name, r in rates.items()]
header = ['model', 'CPU samples/s'] + (['GPU samples/s'] if len(devices) > 1 else []) + ['CPU speed / resnet18']
write_result('training', 'Training throughput (one-second 16 kHz clips, spectrograms made on the fly)', md_table(header, rows),
             '' if len(devices) > 1 else 'No GPU: the GPU column appears when one is present.')
