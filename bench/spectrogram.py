"""Spectrogram throughput (issue 4) and augmentation cost (issue 5), in one process on the same threads.

256 one-second 16 kHz clips (FSDD recordings resampled and centred). Mel settings: n_fft 512, hop 160, 64 mels.
- ours: `MelSpectrogram` as a batch transform on the whole (256, 1, 16000) batch;
- bare torch: `torch.stft` and the mel filters as one matmul on the same batch (the limit);
- per-item librosa: `librosa.feature.melspectrogram` one clip at a time;
- per-item bare torch: the same called per clip, as a dataset transform (the seed chapter's way).
"""
import sys
from pathlib import Path

import librosa
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, bare_mel, best_of, md_table, write_result
from fastaudio_lite.augment import AddNoise, Gain, SpecAugment, TimeShift
from fastaudio_lite.core import AudioTensor, load_audio
from fastaudio_lite.data import fix_audio_length
from fastaudio_lite.spectrogram import MelSpectrogram, ToDB

N, SR = 256, 16000
files = sorted(FSDD.glob('*.wav'))[::len(list(FSDD.glob('*.wav'))) // N][:N]
batch = AudioTensor(torch.stack([fix_audio_length(load_audio(f, sr=SR), SR) for f in files]), sr=SR)
kw = dict(n_fft=512, hop_length=160, n_mels=64)


def run(device):
    x = batch.to(device)
    ours = MelSpectrogram(**kw)
    bare = bare_mel(SR, kw['n_fft'], kw['hop_length'], kw['n_mels'], device)
    plain = x.as_subclass(torch.Tensor)
    ref_ours = ours(x)
    assert torch.allclose(ref_ours.as_subclass(torch.Tensor), bare(plain), rtol=1e-3, atol=1e-3 * float(ref_ours.max()))
    t_ours = best_of(lambda: ours(x))
    t_bare = best_of(lambda: bare(plain))
    res = {'ours (batch transform)': t_ours, 'bare torch (batch)': t_bare}
    if device == 'cpu':
        np_clips = [c[0].numpy() for c in batch]
        res['per-item librosa'] = best_of(lambda: [librosa.feature.melspectrogram(y=c, sr=SR, **kw) for c in np_clips], repeat=3)
        res['per-item bare torch'] = best_of(lambda: [bare(c) for c in plain], repeat=3)
    spec = ToDB()(ours(x))
    augs = {'AddNoise': (AddNoise(p=1.), x), 'TimeShift': (TimeShift(p=1.), x), 'Gain': (Gain(p=1.), x),
            'SpecAugment': (SpecAugment(p=1.), spec)}
    aug = {k: best_of(lambda a=a, b=b: a(b, split_idx=0)) for k, (a, b) in augs.items()}
    return res, aug


rows, aug_rows, gpu = [], [], None
cpu, cpu_aug = run('cpu')
if torch.cuda.is_available(): gpu, gpu_aug = run('cuda')
for name, t in cpu.items():
    row = [name, f"{N / t:,.0f}", f"{cpu['ours (batch transform)'] / t:.2f}" if name != 'ours (batch transform)' else '1.00',
           f"{t / cpu['ours (batch transform)']:.2f}"]
    if gpu is not None: row += [f"{N / gpu[name]:,.0f}" if name in gpu else '-', f"{t / gpu[name]:.1f}" if name in gpu else '-']
    rows.append(row)
header = ['method', 'CPU clips/s', 'speed / ours', 'ours faster by']
if gpu is not None: header += ['GPU clips/s', 'GPU / CPU']
ours, bare, lib = cpu['ours (batch transform)'], cpu['bare torch (batch)'], cpu['per-item librosa']
notes = (f"Ours reaches {bare / ours:.2f} of bare torch's speed (aim: at least 0.9) and is {lib / ours:.1f} times as fast as "
         f"per-item librosa (aim: at least 2.5) and {cpu['per-item bare torch'] / ours:.1f} times as fast as a per-item dataset transform.")
if gpu is None: notes += " No GPU in this run: the GPU columns appear when one is present."
for k, t in cpu_aug.items():
    aug_rows.append([k, f"{t * 1e3:.2f}", f"{t / ours:.3f}"] + ([f"{gpu_aug[k] / gpu['ours (batch transform)']:.3f}"] if gpu is not None else []))
aug_table = md_table(['augmentation (p=1)', 'CPU ms per 256 x 1 s batch', 'cost / mel spectrogram (CPU)'] + (['cost / mel (GPU)'] if gpu is not None else []), aug_rows)
write_result('spectrogram', 'Spectrogram throughput and augmentation cost (256 one-second 16 kHz clips, 64 mels)',
             md_table(header, rows) + '\n\n' + aug_table, notes)
