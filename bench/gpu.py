"""Does the loader feed a GPU? (issue 15) Spectrogram throughput, training samples per second, loader files per second.

On a CUDA machine: (1) the mel spectrogram + dB of one-second 16 kHz clips, ours (`MelSpectrogram`, `ToDB` batch
transforms) against bare torch (`torch.stft`, one matmul, dB) on the same batch, batches of 256, 1,024 and 4,096; (2) resnet18 training steps
on 64 x 101 mel inputs (bf16 autocast, channels_last, batches of 256), samples per second; (3) the `AudioBlock` loader
on Speech Commands (16 kHz, every clip) for several worker counts, files per second, against (2). On a machine without
a GPU the same script runs on the CPU with smaller batches, and its GPU rows say they wait for a GPU.
"""
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, bare_mel, best_of, md_table, write_result
from fastai.data.all import CategoryBlock, DataBlock, parent_label
from fastaudio_lite.core import AudioTensor, get_audio_files
from fastaudio_lite.data import AudioBlock
from fastaudio_lite.spectrogram import MelSpectrogram, ToDB

# the loader reads Speech Commands, or the recordings in $BENCH_AUDIO (scripts/gpu-check: the repository's FSDD subset)
SC = Path(os.environ.get('BENCH_AUDIO', ROOT.parent / 'shared' / 'data' / 'speech_commands12'))
SR = 16000
CUDA = torch.cuda.is_available()
DEV = 'cuda' if CUDA else 'cpu'


def spectrogram_rows():
    rows = []
    kw = dict(n_fft=512, hop_length=160, n_mels=64)
    ours = [MelSpectrogram(**kw), ToDB()]
    bare = bare_mel(SR, kw['n_fft'], kw['hop_length'], kw['n_mels'], DEV, db=True)
    for bs in ((256, 1024, 4096) if CUDA else (256,)):
        x = AudioTensor(torch.randn(bs, 1, SR, device=DEV), sr=SR)
        plain = x.as_subclass(torch.Tensor)
        def f_ours():
            y = x
            for t in ours: y = t(y)
        t_o, t_b = best_of(f_ours, repeat=10, warmup=3), best_of(lambda: bare(plain), repeat=10, warmup=3)
        rows.append([f"mel + dB, batch {bs}", f"{bs / t_o:,.0f}", f"{bs / t_b:,.0f}", f"{t_b / t_o:.2f}"])
        print(rows[-1], flush=True)
    return rows


def train_rate(bs=256 if CUDA else 32, steps=20 if CUDA else 3):
    "resnet18 (timm, one input channel) training samples per second on 1 x 64 x 101 inputs."
    import timm
    model = timm.create_model('resnet18', pretrained=False, in_chans=1, num_classes=12).to(DEV)
    if CUDA: model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(bs, 1, 64, 101, device=DEV)
    if CUDA: x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 12, (bs,), device=DEV)
    def step():
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=CUDA):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = best_of(lambda: [step() for _ in range(steps)], repeat=3, warmup=1)
    return bs * steps / t


def loader_rate(workers, files):
    dblock = DataBlock(blocks=(AudioBlock(sr=SR, duration=1.0), CategoryBlock), get_items=lambda _: files,
                       get_y=parent_label, splitter=lambda o: (list(range(len(o))), []))
    dl = dblock.dataloaders(SC, bs=256, num_workers=workers, device=DEV).train.new(shuffle=False, drop_last=False)
    for _ in dl: pass
    t = time.perf_counter()
    for xb, _ in dl: pass
    if CUDA: torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - t)


if __name__ == '__main__':
    spec = spectrogram_rows()
    train = train_rate()
    files = list(get_audio_files(SC))
    files = files * max(1, -(-4096 // len(files)))   # at least 4,096 items, so each worker count is timed over 16 batches
    workers = (0, 2, 4, 8, 15) if CUDA else (0, 2)
    load = [[w, f"{loader_rate(w, files):,.0f}"] for w in workers if w <= (os.cpu_count() or 1)]
    for r in load: r.append(f"{float(r[1].replace(',', '')) / train:.2f}")
    dev = torch.cuda.get_device_name(0) if CUDA else 'CPU (no GPU: the GPU rows wait for one)'
    table = md_table(['spectrogram, one-second 16 kHz clips', 'ours clips/s', 'bare torch clips/s', 'ours / bare torch'], spec)
    table += '\n\n' + md_table(['training', 'samples/s'], [[f"resnet18, 1 x 64 x 101, {'bf16 autocast, channels_last, batches of 256' if CUDA else 'float32, batches of 32'}", f"{train:,.0f}"]])
    table += '\n\n' + md_table([f'AudioBlock loader, {SC.name} ({len(files):,} clips), batches of 256: workers', 'files/s', 'loader / training rate'], load)
    write_result('gpu', f'GPU: spectrograms, training and whether the loader keeps up ({dev})', table, command=
                 "bash scripts/gpu-check` on the CUDA machine (its bench step: `BENCH_AUDIO=tests/data/fsdd/recordings python3 bench/gpu.py`), or here `.venv/bin/python bench/gpu.py",
                 notes=
                 ("A loader / training ratio of 1 or more means the loader keeps the model busy." +
                 ("" if CUDA else " Measured on the CPU: on a GPU, training is tens of times faster and these rows must be "
                  "measured there (`bash scripts/gpu-check` on a CUDA machine).")))
