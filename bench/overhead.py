"""The library's own cost: one training epoch (a training pass and a validation pass) through fastaudio_lite and fastai
against a bare PyTorch loop with the same model, initial weights, optimizer, batches and transforms.

Both read the same FSDD files (1,280 training, 320 validation; 8 kHz, 1 s clips, random crops in training, centred in
validation), make the same log-mel spectrograms (the speech preset's windows at 8 kHz, 64 mels, dB, normalised by the
same statistics) and train `SpecCNN` with torch's Adam at 1e-3 in batches of 32 in the main process. The library path is
`AudioBlock` + `MelSpectrogram`/`ToDB`/`SpecNormalize` batch transforms + a fastai `Learner` (`learn.fit(1)`, no bar);
the bare path is a torch `Dataset` that decodes with soundfile, `bench/common.bare_mel` and a plain loop. Aim: the
library within 10% of the bare loop on the CPU. Each epoch is timed three times, alternating, and the best kept.
"""
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, bare_mel, md_table, write_result
from fastai.data.all import CategoryBlock, DataBlock
import fastai.callback.progress  # noqa: F401 -- Learner.no_bar
from fastai.learner import Learner
from fastai.losses import CrossEntropyLossFlat
from fastai.optimizer import OptimWrapper
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.nets import SpecCNN
from fastaudio_lite.spectrogram import MelSpectrogram, SpecNormalize, ToDB, stft_args

SR, N, BS, N_MELS = 8000, 8000, 32, 64
STFT = stft_args('speech', SR)
label = NameLabeller(r'^(\d)_')


def split():
    files = sorted(FSDD.glob('*.wav'))
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.permutation(len(files))[:1600]]
    return files[:1280], files[1280:]


class Clips(torch.utils.data.Dataset):
    "Decode with soundfile, crop (random in training, centred otherwise) or zero-pad to 1 s: the bare loop's data."
    def __init__(self, files, train): self.files, self.train, self.vocab = files, train, sorted({label(f) for f in files})
    def __len__(self): return len(self.files)
    def __getitem__(self, i):
        x, _ = sf.read(self.files[i], dtype='float32')
        if len(x) > N:
            s = np.random.randint(0, len(x) - N + 1) if self.train else (len(x) - N) // 2
            x = x[s:s + N]
        else:
            p = N - len(x)
            s = np.random.randint(0, p + 1) if self.train else p // 2
            x = np.pad(x, (s, p - s))
        return torch.from_numpy(x)[None], self.vocab.index(label(self.files[i]))


def bare_epoch(model, train, valid, mean, std):
    mel = bare_mel(SR, STFT['n_fft'], STFT['hop_length'], N_MELS, 'cpu', db=True, win_length=STFT['win_length'])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_f = torch.nn.CrossEntropyLoss()
    dl = torch.utils.data.DataLoader(Clips(train, True), batch_size=BS, shuffle=True, drop_last=True)
    vdl = torch.utils.data.DataLoader(Clips(valid, False), batch_size=BS * 2)
    model.train()
    for x, y in dl:
        loss = loss_f(model((mel(x) - mean) / std), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        for x, y in vdl: loss_f(model((mel(x) - mean) / std), y)


def library_learner(model, train, valid, mean, std):
    tfms = [MelSpectrogram(n_mels=N_MELS, **STFT), ToDB(), SpecNormalize(mean, std)]
    dls = DataBlock(blocks=(AudioBlock(sr=SR, duration=1.0), CategoryBlock), get_items=lambda _: train + valid, get_y=label,
                    splitter=lambda o: (list(range(len(train))), list(range(len(train), len(o)))),
                    batch_tfms=tfms).dataloaders('.', bs=BS, num_workers=0, device='cpu')
    return Learner(dls, model, loss_func=CrossEntropyLossFlat(), opt_func=partial(OptimWrapper, opt=torch.optim.Adam), lr=1e-3)


def stats(train):
    "Mean and std of the log-mel spectrograms of 256 training clips (the same numbers for both paths)."
    mel = bare_mel(SR, STFT['n_fft'], STFT['hop_length'], N_MELS, 'cpu', db=True, win_length=STFT['win_length'])
    x = torch.stack([Clips(train, False)[i][0] for i in range(256)])
    s = mel(x)
    return s.mean(), s.std()


if __name__ == '__main__':
    train, valid = split()
    mean, std = stats(train)
    torch.manual_seed(0)
    init = SpecCNN(n_in=1, n_out=10).state_dict()
    def fresh():
        m = SpecCNN(n_in=1, n_out=10)
        m.load_state_dict(init)
        return m
    learn = library_learner(fresh(), train, valid, mean, std)
    times = {'bare': [], 'library': []}
    for _ in range(3):
        t = time.perf_counter(); bare_epoch(fresh(), train, valid, mean, std); times['bare'].append(time.perf_counter() - t)
        learn.model.load_state_dict(init)
        learn.opt = None
        t = time.perf_counter()
        with learn.no_bar(), learn.no_logging(): learn.fit(1)
        times['library'].append(time.perf_counter() - t)
        print({k: [round(v, 2) for v in vs] for k, vs in times.items()}, flush=True)
    b, l = min(times['bare']), min(times['library'])
    rows = [['bare PyTorch loop (soundfile, torch.stft + mel matmul + dB, torch Adam)', f"{b:.2f}", f"{(len(train) + len(valid)) / b:,.0f}", '1.00'],
            ['fastaudio_lite + fastai (AudioBlock, batch transforms, Learner.fit)', f"{l:.2f}", f"{(len(train) + len(valid)) / l:,.0f}", f"{l / b:.2f}"]]
    write_result('overhead', "The library's own cost: a training epoch against a bare PyTorch loop (FSDD, SpecCNN, CPU)",
                 md_table(['path (1,280 training + 320 validation clips, batches of 32, main process)', 'seconds per epoch (best of 3)',
                           'clips/s', 'time / bare'], rows),
                 f"Aim: the library within 1.10 of the bare loop's time. All three epochs each (seconds): bare "
                 f"{', '.join(f'{v:.2f}' for v in times['bare'])}; library {', '.join(f'{v:.2f}' for v in times['library'])}.")
