"""Data pipeline throughput (issue 3): FSDD files -> batches through `dls`, against the limit: bare soundfile decoding.

All 2,500 FSDD files at their own 8 kHz, one-second clips, batches of 64, no batch transforms; the limit decodes the
same files with soundfile and nothing else, in the same process. A pass over the training and validation loaders
counts every file once.
"""
import sys
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, md_table, write_result
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter
from fastaudio_lite.core import get_audio_files
from fastaudio_lite.data import AudioBlock, NameLabeller

files = get_audio_files(FSDD)


def bare():
    for f in files: sf.read(f, dtype='float32', always_2d=True)


def through_dls(workers, sr):
    dblock = DataBlock(blocks=(AudioBlock(sr=sr, duration=1.0), CategoryBlock), get_items=lambda _: files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(0.2, seed=0))
    dls = dblock.dataloaders(FSDD, bs=64, num_workers=workers)
    def one_pass():
        n = 0
        for dl in (dls.train.new(shuffle=False, drop_last=False), dls.valid):
            for xb, yb in dl: n += len(xb)
        assert n == len(files), n
    one_pass()  # warm-up: worker start-up, page cache
    t = time.perf_counter()
    one_pass()
    return time.perf_counter() - t


bare()
t0 = time.perf_counter(); bare(); t_bare = time.perf_counter() - t0
rows = [['bare soundfile decoding (limit)', f"{len(files) / t_bare:,.0f}", '1.00']]
for sr, what in ((8000, 'dls, 8 kHz (no resampling)'), (16000, 'dls, resampled to 16 kHz')):
    for w in (0, 2):
        t = through_dls(w, sr)
        rows.append([f"{what}, {w} workers", f"{len(files) / t:,.0f}", f"{t_bare / t:.2f}"])
write_result('pipeline', 'Data pipeline: files to batches (2,500 FSDD files, batches of 64)',
             md_table(['path', 'files/s', 'fraction of the limit'], rows),
             "Aim: the 8 kHz `dls` path at least 0.8 of bare decoding. The 16 kHz rows add band-limited resampling.")
