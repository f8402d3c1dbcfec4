"""Accuracy on FSDD (issue 8): the official split and leave-one-speaker-out for each of the five speakers, for the
front ends mel, STFT, complex (real/imaginary channels), mel+CoordConv and raw waveform.

FSDD at its own 8 kHz, one-second clips; spectrograms with 25 ms windows and a 10 ms hop (n_fft 256); resnet18 from
scratch for the spectrograms (no pretrained weights where it was measured), WaveCNN for the raw waveform; one-cycle,
batch 32, noise and time-shift augmentation. The variant `synth` is `mel` pretrained first on the ten digits said by
300 eSpeak NG voices (`synth_pretrain`, one pretraining shared by every split: it never sees FSDD), then trained on
FSDD at 3e-3. Results are saved per run in bench/out/accuracy.json, so an interrupted run resumes; `--variants` and
`--splits` pick a subset.

    .venv/bin/python bench/accuracy.py [--variants mel stft complex coord wave synth] [--splits official george ...] [--epochs 5] [--seed 42]
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, OUT, SPEAKERS, md_table, run_resumable, write_result
from fastai.data.all import CategoryBlock, DataBlock
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
from fastaudio_lite.augment import AddNoise, TimeShift
from fastaudio_lite.core import get_audio_files
from fastaudio_lite.data import AudioBlock
from fastaudio_lite.datasets import fsdd_labeller, fsdd_speaker_splitter, fsdd_splitter
from fastaudio_lite.recipes import synth_pretrain
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.nets import WaveCNN
from fastaudio_lite.spectrogram import CoordChannels, MelSpectrogram, Spectrogram, SpecNormalize, ToDB

SR = 8000
STFT = dict(n_fft=256, win_length=200, hop_length=80)
VARIANTS = {
    'mel': ('resnet18', lambda: [MelSpectrogram(n_mels=64, **STFT), ToDB(), SpecNormalize()]),
    'stft': ('resnet18', lambda: [Spectrogram(**STFT), ToDB(), SpecNormalize()]),
    'complex': ('resnet18', lambda: [Spectrogram(power=None, **STFT), SpecNormalize()]),
    'coord': ('resnet18', lambda: [MelSpectrogram(n_mels=64, **STFT), ToDB(), SpecNormalize(), CoordChannels()]),
    'wave': (WaveCNN, lambda: []),
    'synth': ('resnet18', lambda: [MelSpectrogram(n_mels=64, **STFT), ToDB(), SpecNormalize()]),
}
NAMES = {'mel': 'mel (64)', 'stft': 'STFT power', 'complex': 'complex (real, imag)', 'coord': 'mel + CoordConv', 'wave': 'raw waveform (WaveCNN)',
         'synth': 'mel (64), pretrained on synthetic speakers'}
SPLITS = ('official',) + SPEAKERS


def run(variant, split, epochs, seed=42):
    arch, tfms = VARIANTS[variant]
    splitter = fsdd_splitter() if split == 'official' else fsdd_speaker_splitter(split)
    aug = [AddNoise(snr_db=(15, 40), p=0.5), TimeShift(0.1, p=0.5)]
    dblock = DataBlock(blocks=(AudioBlock(sr=SR, duration=1.0), CategoryBlock), get_items=get_audio_files,
                       get_y=fsdd_labeller, splitter=splitter, batch_tfms=aug + tfms())
    set_seed(seed, reproducible=True)
    dls = dblock.dataloaders(FSDD, bs=32, num_workers=0)
    weights, lr, extra = None, 1e-2, {}
    if variant == 'synth':
        t = time.time()
        weights = synth_pretrain(dls, OUT / 'synth_fsdd', n_voices=300, epochs=5, lr=1e-2)
        info = json.loads((OUT / 'synth_fsdd' / 'weights.json').read_text())
        extra = dict(pretrain_seconds=round(time.time() - t), pretrain_valid_accuracy=info['valid_accuracy'], pretrain_clips=info['n_clips'])
        lr = 3e-3
        set_seed(seed, reproducible=True)
    learn = audio_learner(dls, arch, pretrained=False, weights=weights, metrics=accuracy)
    t = time.time()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, lr)
    return dict(accuracy=float(learn.validate()[1]), seconds=round(time.time() - t), epochs=epochs, seed=seed, **extra)


def table(res):
    rows = []
    for key in [k for v in VARIANTS for k in res if k.split('@')[0] == v]:  # 'synth@43': the variant with another seed
        v, _, seed = key.partition('@')
        r = res[key]
        cells = [f"{r[s]['accuracy']:.3f}" if s in r else 'not run' for s in SPLITS]
        loso = [r[s]['accuracy'] for s in SPEAKERS if s in r]
        mean = f"{sum(loso) / len(loso):.3f}" + ('' if len(loso) == 5 else f" ({len(loso)}/5)") if loso else 'not run'
        secs = sum(x['seconds'] for x in r.values())
        ep = sorted({x['epochs'] for x in r.values()})
        rows.append([NAMES[v] + (f", seed {seed}" if seed else '')] + cells + [mean, ','.join(map(str, ep)) or '-', f"{secs / 60:.1f}"])
    return md_table(['front end'] + ['official split'] + [f"without {s}" for s in SPEAKERS] + ['leave-one-speaker-out mean', 'epochs', 'wall min (all runs)'], rows)


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--splits', nargs='+', default=list(SPLITS), choices=list(SPLITS))
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--seed', type=int, default=42, help="another seed adds rows 'VARIANT, seed N' (the synth pretraining is shared)")
    a = p.parse_args()
    rows = [v if a.seed == 42 else f"{v}@{a.seed}" for v in a.variants]
    res = run_resumable('accuracy', rows, a.splits, lambda v, s: run(v.split('@')[0], s, a.epochs, a.seed), done=lambda r: r['epochs'] == a.epochs)
    pre = [r for r in res.get('synth', {}).values() if 'pretrain_valid_accuracy' in r]
    synth_note = (f" The synth row's pretraining ({pre[0]['pretrain_clips']:,} synthetic clips: 300 eSpeak NG voices less the 15 of its unused test list; 5 epochs, "
                  f"{max(r['pretrain_seconds'] for r in pre)} s including the synthesis of the clips, accuracy {pre[0]['pretrain_valid_accuracy']:.3f} on held-out "
                  f"synthetic voices; the same seed and settings for every split, so it is cached after the first) is not in 'wall min'." if pre else '')
    text = table(res)
    notes = " Cells marked 'not run' were not run." if 'not run' in text else ''
    notes += ''.join(f" Row '{NAMES[k.split('@')[0]]}, seed {k.split('@')[1]}': `.venv/bin/python bench/accuracy.py --variants {k.split('@')[0]} --seed {k.split('@')[1]}`."
                       for k in res if '@' in k)
    write_result('accuracy', 'Accuracy on FSDD: official split and leave-one-speaker-out', text,
                 "Official split: index 0-4 of every speaker held out (aim 0.98). Leave-one-speaker-out: trained on four speakers, "
                 "tested on the fifth, whom the model never heard (aim: mean 0.90). Seed 42 for every run unless the row names another (for the synth rows, the seed of the training on FSDD; the pretraining keeps its own seed, 0); 'wall min' is the "
                 "training time of all the runs of a row (some runs shared the CPU with other benchmarks, so it is only a rough guide)." + notes + synth_note,
                 command='.venv/bin/python bench/accuracy.py')
