"""Transformers audio models against resnet18 on the same batches (issue 13): training seconds per epoch and peak
memory on the CPU, for a tiny and a base-sized AST configuration (random weights: what pretraining does to
accuracy needs the downloaded weights, which the benchmark machine could not fetch, so no accuracy is claimed).

FSDD at 16 kHz, one-second clips, batches of 16. resnet18 gets 64-band mel spectrograms (10 ms hop); AST gets its own
Kaldi filterbanks (128 bands x 100 frames, `ASTFeatures`) from the same waveform batches. Each model trains 6 batches
after 2 warm-up batches, in its own process (peak resident memory from `wait4`); seconds per epoch are scaled to
FSDD's 2,250 training clips.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import md_table, write_result

CHILD = r'''
import json, sys, time, tempfile, torch
from pathlib import Path
sys.path.insert(0, 'bench')
from common import FSDD
from fastai.data.all import CategoryBlock, DataBlock
from fastai.callback.core import Callback, CancelFitException
from fastaudio_lite.data import AudioBlock, NameLabeller, RegexSplitter
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.spectrogram import MelSpectrogram, ToDB, SpecNormalize
kind, result = sys.argv[1], Path(sys.argv[2])
files = sorted(FSDD.glob('*.wav'))[:400]
tfms = [MelSpectrogram(n_fft=512, hop_length=160, n_mels=64), ToDB(), SpecNormalize()] if kind == 'resnet18' else []
dls = DataBlock(blocks=(AudioBlock(sr=16000, duration=1.0), CategoryBlock), get_items=lambda _: files,
                get_y=NameLabeller(r'^(\d)_'), splitter=RegexSplitter(r'_[0-4]\.wav$'), batch_tfms=tfms).dataloaders(FSDD, bs=16, num_workers=0)
arch = 'resnet18'
if kind != 'resnet18':
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification
    size = dict(tiny=dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768),
                base=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072))[kind]
    arch = Path(tempfile.mkdtemp())
    ASTForAudioClassification(ASTConfig(max_length=100, num_labels=10, **size)).save_pretrained(arch)
    ASTFeatureExtractor(max_length=100).save_pretrained(arch)
class Timer(Callback):
    def before_fit(self): self.n, self.t = 0, None
    def after_batch(self):
        self.n += 1
        if self.n == 2: self.t = time.perf_counter()
        if self.n == 8:
            self.learn.rate = 6 * 16 / (time.perf_counter() - self.t)
            raise CancelFitException()
learn = audio_learner(dls, arch, pretrained=False, cbs=Timer())
learn.fit(1, 1e-4)
n = sum(p.numel() for p in learn.model.parameters())
result.write_text(json.dumps(dict(rate=learn.rate, params=n)))
'''


def run(kind):
    result, log = Path(tempfile.mkdtemp()) / 'result.json', tempfile.TemporaryFile()
    p = subprocess.Popen([sys.executable, '-c', CHILD, kind, str(result)], stdout=subprocess.DEVNULL, stderr=log,
                         cwd=Path(__file__).parents[1], env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    _, status, ru = os.wait4(p.pid, 0)
    log.seek(0)
    assert status == 0, log.read().decode()[-3000:]
    return json.loads(result.read_text()), ru.ru_maxrss / 1024


if __name__ == '__main__':
    rows = []
    for kind, what in (('resnet18', 'resnet18 (timm), 1 x 64 x 101 mel'), ('tiny', 'AST tiny (192 wide, 12 layers), 128 x 100 fbank'),
                       ('base', 'AST base (768 wide, 12 layers), 128 x 100 fbank')):
        r, mib = run(kind)
        rows.append([what, f"{r['params'] / 1e6:.1f} M", f"{r['rate']:.1f}", f"{2250 / r['rate']:.0f}", f"{mib:,.0f}"])
        print(rows[-1], flush=True)
    write_result('hf_models', 'Transformers audio models against resnet18 (CPU, random weights, FSDD at 16 kHz, batches of 16)',
                 md_table(['model', 'parameters', 'training samples/s', 's per epoch (2,250 clips)', 'peak memory (MiB)'], rows),
                 "What AudioSet pretraining does to accuracy (AST reports 95.6% on ESC-50) cannot be measured here: the weights "
                 "could not be downloaded where it ran, so no accuracy figure is claimed for these models.")
