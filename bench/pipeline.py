"""Data pipeline throughput (issue 15): files -> batches through `dls`, against a bare torch `DataLoader` that does the
same decode-and-pad with soundfile, with the same workers and batch size; and what the decoded-waveform cache saves.

FSDD: all 2,500 files (8 kHz, 0.14-1.31 s) in one loader on each side (the same worker start-ups), one-second clips,
batches of 64, no batch transforms, in file order. Each loader makes one warm-up pass (page cache), then two timed
passes over every file; the best counts. ESC-10: 400
five-second OGG clips at 44.1 kHz, loaded at 22,050 Hz, seconds per pass after the first, with and without
`WaveCache`, and the rounding error of its float16 samples.
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, ROOT, md_table, write_result
from fastai.data.all import CategoryBlock, DataBlock, parent_label
from fastai.data.core import TfmdDL
from fastaudio_lite.core import WaveCache, get_audio_files
from fastaudio_lite.decode import read_clip
from fastaudio_lite.data import AudioBlock, NameLabeller

ESC10 = ROOT.parent / 'shared' / 'data' / 'esc10'
BS = 64


class DecodeAndPad(Dataset):
    "The bare limit: decode with soundfile, crop or pad to `n` samples at the file's rate, the label's index."
    def __init__(self, files, n):
        self.files, self.n = files, n
        self.labels = [int(Path(f).name[0]) for f in files]
    def __len__(self): return len(self.files)
    def __getitem__(self, i):
        x = sf.read(self.files[i], dtype='float32', always_2d=True)[0].T[:, :self.n]
        out = np.zeros((x.shape[0], self.n), np.float32)
        out[:, :x.shape[1]] = x
        return torch.from_numpy(out), self.labels[i]


def timed_passes(make_iter, n_files, passes=2):
    "Files per second: the best of `passes` timed passes after one warm-up pass."
    def one():
        t, n = time.perf_counter(), 0
        for xb, _ in make_iter(): n += len(xb)
        assert n == n_files, (n, n_files)
        return time.perf_counter() - t
    one()
    return n_files / min(one() for _ in range(passes))


def all_train(items): return list(range(len(items))), []


def fsdd_dls(sr, workers, cache=None, files=None):
    "Every file in the training loader (one loader, as on the bare side), with training's random crops."
    dblock = DataBlock(blocks=(AudioBlock(sr=sr, duration=1.0, cache=cache), CategoryBlock), get_items=lambda _: files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=all_train)
    return dblock.dataloaders(FSDD, bs=BS, num_workers=workers)


def dls_pass(dls, cls=None):
    dl = dls.train.new(shuffle=False, drop_last=False, **({'cls': cls} if cls else {}))
    return lambda: iter(dl)


def fsdd_rows():
    files = list(get_audio_files(FSDD))
    rows = []
    for w in (0, 2):
        bare = timed_passes(lambda: DataLoader(DecodeAndPad(files, 8000), batch_size=BS, num_workers=w), len(files))
        rows.append([f"bare torch DataLoader, soundfile decode-and-pad, 8 kHz (the limit)", w, f"{bare:,.0f}", '1.00'])
        cache = Path(tempfile.mkdtemp()) / 'waves'
        for what, sr, kw in (("fastai's own per-item path (TfmdDL), 8 kHz", 8000, dict(cls=TfmdDL)),
                             ('dls, 8 kHz (no resampling)', 8000, {}),
                             ('dls, resampled to 16 kHz', 16000, {}),
                             ('dls, 16 kHz, from the WaveCache', 16000, dict(cache=cache))):
            dls = fsdd_dls(sr, w, kw.get('cache'), files)
            r = timed_passes(dls_pass(dls, kw.get('cls')), len(files))
            rows.append([what, w, f"{r:,.0f}", f"{r / bare:.2f}"])
            print(rows[-1], flush=True)
    return rows


def esc10_rows():
    files = list(get_audio_files(ESC10))
    rows = []
    cache = WaveCache(Path(tempfile.mkdtemp()) / 'waves', sr=22050)
    t = time.perf_counter(); cache.fill(files, progress=False); fill_s = time.perf_counter() - t
    for what, c in (('decoded and resampled every epoch', None), ('from the WaveCache (float16)', cache)):
        dblock = DataBlock(blocks=(AudioBlock(sr=22050, duration=5.0, cache=c), CategoryBlock), get_items=lambda _: files,
                           get_y=parent_label, splitter=all_train)
        dls = dblock.dataloaders(ESC10, bs=32, num_workers=2)
        fps = timed_passes(lambda: iter(dls.train.new(shuffle=False, drop_last=False)), len(files))
        rows.append([what, f"{len(files) / fps:.2f}", f"{fps:,.0f}"])
        print(rows[-1], flush=True)
    # what float16 storage costs: its rounding error against the float32 decode
    err = []
    for f in files[:100]:
        ref = read_clip(f, 22050)
        got = np.asarray(cache.get(f), dtype=np.float32)
        err.append(10 * np.log10((ref ** 2).mean() / max(((ref - got) ** 2).mean(), 1e-30)))
    return rows, fill_s, float(np.median(err)), float(np.min(err))


if __name__ == '__main__':
    torch.set_num_threads(1)
    rows = fsdd_rows()
    esc, fill_s, snr_med, snr_min = esc10_rows()
    table = md_table(['path (FSDD, 2,500 files, one-second clips, batches of 64)', 'workers', 'files/s', 'fraction of the limit'], rows)
    table += '\n\n' + md_table(['ESC-10 (400 clips, 5 s, 44.1 kHz OGG -> 22,050 Hz, batches of 32, 2 workers)', 'seconds per pass', 'files/s'], esc)
    write_result('pipeline', 'Data pipeline: files to batches, and the decoded-waveform cache', table,
                 f"Aims: the 8 kHz `dls` rows at least 0.8 of the bare limit with the same workers, the 16 kHz rows at least "
                 f"0.5. Filling the ESC-10 cache (decode and resample all 400 files once, 2 processes) took {fill_s:.1f} s. "
                 f"float16 storage: its rounding error is {snr_med:.0f} dB below the signal (median over 100 ESC-10 clips; "
                 f"worst {snr_min:.0f} dB), so the cache changes nothing a model can hear.")
