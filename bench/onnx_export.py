"""ONNX export against the learner: accuracy, size and speed of the float and int8 files, and a fresh process's cost.

Models: resnet18 from random weights with the recipe of each data set's kind of sound, trained briefly (`--epochs`,
3 by default: what is measured is the change the export and int8 make, not the recipe's accuracy) on FSDD's official
split (8 kHz, 1 s) and on ESC-10 with fold 1 held out (22,050 Hz, 5 s). For each: the validation accuracy of the
learner (`predict_files`), of the ONNX file and of its int8 form, and their sizes. On the FSDD model: files per second
for batches of 32 one-second clips (the predictor's `predict`, from files, against `predict_files` and `learn.predict`
one file at a time), the latency of one clip on one thread, and a fresh process that imports and predicts one file
(time and peak memory), both ways. Everything runs on the CPU; ratios are from one run.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, OUT, ROOT, md_table, write_result
from fastai.learner import load_learner
from fastaudio_lite.data import NameLabeller
from fastaudio_lite.datasets import EscFoldSplitter, fsdd_splitter
from fastaudio_lite.core import get_audio_files
from fastaudio_lite.inference import predict_files
from fastaudio_lite.recipes import recipe
from fastaudio_lite.runtime import OnnxModel
import fastaudio_lite.export  # noqa: F401 -- Learner.export_onnx

ESC10 = ROOT.parent / 'shared' / 'data' / 'esc10'
WORK = OUT / 'onnx'


def trained(name, epochs):
    "model.pkl, model.onnx and model-int8.onnx of data set `name`, trained once (kept in bench/out/onnx/NAME)."
    d = WORK / name
    if not (d / 'valid.json').exists():
        d.mkdir(parents=True, exist_ok=True)
        if name == 'fsdd':
            files, r = get_audio_files(FSDD), recipe('speech', sr=8000, duration=1.0)
            dls = r.dataloaders(FSDD, items=files, get_y=NameLabeller(r'^(\d)_'), splitter=fsdd_splitter(), seed=42)
        else:
            files, r = get_audio_files(ESC10), recipe('sound')
            dls = r.dataloaders(ESC10, items=files, splitter=EscFoldSplitter(1), seed=42)
        learn = r.learner(dls, pretrained=False)
        r.but(epochs=epochs).fit(learn)
        learn.export(d / 'model.pkl')
        (d / 'valid.json').write_text(json.dumps([str(f) for f in dls.valid_ds.items]))
    if not (d / 'model-int8.onnx').exists():   # from the exported learner, as `fastaudio-lite export` does
        learn = load_learner(d / 'model.pkl', cpu=True)
        learn.export_onnx(d / 'model.onnx')
        learn.export_onnx(d / 'model-int8.onnx', quantize=True)
    return d


def accuracy(preds):
    "The share of predictions whose label is the file's folder (ESC-10) or its first digit (FSDD)."
    truth = lambda f: Path(f).name[0] if Path(f).parent.name == 'recordings' else Path(f).parent.name
    return float(np.mean([p.label == truth(p.file) for p in preds]))


def rate(fn, n, repeat=3):
    "Items per second: the best of `repeat` calls of `fn` that handle `n` items."
    best = min(_timed(fn) for _ in range(repeat))
    return n / best


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


FRESH = {
    'onnx': "from fastaudio_lite.runtime import OnnxModel; m = OnnxModel({model!r}, threads=1); print(list(m.predict([{file!r}]))[0].label)",
    'pkl': ("import torch; torch.set_num_threads(1); from fastai.learner import load_learner; from fastaudio_lite.inference import predict_files; "
            "print(list(predict_files(load_learner({model!r}, cpu=True), [{file!r}]))[0].label)"),
}


def fresh(kind, model, file):
    "Seconds and peak resident MB of a new Python process that imports, loads `model` and predicts `file`."
    code = FRESH[kind].format(model=str(model), file=str(file))
    t = time.perf_counter()
    # VmHWM, the process's own peak (ru_maxrss would carry the forking parent's over the exec)
    hwm = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    r = subprocess.run([sys.executable, '-c', f"{code}\n{hwm}"], capture_output=True, text=True)
    s = time.perf_counter() - t
    if r.returncode != 0: raise RuntimeError(r.stderr[-2000:])
    return s, int(r.stdout.split()[-1]) / 1024


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=3)
    a = p.parse_args()
    acc_rows, notes = [], []
    for name in ('fsdd', 'esc10'):
        d = trained(name, a.epochs)
        valid = json.loads((d / 'valid.json').read_text())
        learn = load_learner(d / 'model.pkl', cpu=True)
        base = accuracy(predict_files(learn, valid))
        f32, i8 = OnnxModel(d / 'model.onnx'), OnnxModel(d / 'model-int8.onnx')
        a32, a8 = accuracy(f32.predict(valid)), accuracy(i8.predict(valid))
        size = lambda f: f"{(d / f).stat().st_size / 2**20:.1f} MB"
        acc_rows.append([name.upper().replace('ESC10', 'ESC-10 fold 1'), len(valid), f"{base:.4f}", f"{a32:.4f}", f"{a8:.4f}",
                         f"{a8 - a32:+.4f}", size('model.pkl'), size('model.onnx'), size('model-int8.onnx')])
        print(acc_rows[-1], flush=True)
    d = WORK / 'fsdd'
    valid = json.loads((d / 'valid.json').read_text())
    clips = valid[:256]
    learn = load_learner(d / 'model.pkl', cpu=True)
    f32, i8 = OnnxModel(d / 'model.onnx'), OnnxModel(d / 'model-int8.onnx')
    speed = [['ONNX float, `OnnxModel.predict`', f"{rate(lambda: list(f32.predict(clips, bs=32)), len(clips)):,.0f}"],
             ['ONNX int8, `OnnxModel.predict`', f"{rate(lambda: list(i8.predict(clips, bs=32)), len(clips)):,.0f}"],
             ['learner, `predict_files`', f"{rate(lambda: list(predict_files(learn, clips, bs=32)), len(clips)):,.0f}"],
             ['learner, `learn.predict` one file at a time', f"{rate(lambda: [learn.predict(f) for f in clips[:32]], 32, repeat=1):,.0f}"]]
    base = float(speed[2][1].replace(',', ''))
    for r in speed: r.append(f"{float(r[1].replace(',', '')) / base:.2f}")
    torch.set_num_threads(1)
    f1, q1 = OnnxModel(d / 'model.onnx', threads=1), OnnxModel(d / 'model-int8.onnx', threads=1)
    one = [f1.clip(clips[0])]
    with learn.no_bar(), learn.no_logging():
        lat = [['ONNX float', f"{1000 / rate(lambda: f1(one), 1, repeat=20):.1f}"],
               ['ONNX int8', f"{1000 / rate(lambda: q1(one), 1, repeat=20):.1f}"],
               ['`learn.predict` (file)', f"{1000 / rate(lambda: learn.predict(clips[0]), 1, repeat=20):.1f}"]]
    fr = [[k, *(f"{v:.2f}" if i == 0 else f"{v:.0f}" for i, v in enumerate(fresh(k, d / ('model.onnx' if k == 'onnx' else 'model.pkl'), clips[0])))]
          for k in ('onnx', 'pkl')]
    fr[0][0], fr[1][0] = 'ONNX predictor (`fastaudio_lite.runtime`: numpy, soundfile, soxr, onnxruntime)', 'model.pkl (`load_learner`, `predict_files`)'
    table = md_table(['data (resnet18, random weights, %d epochs)' % a.epochs, 'validation clips', 'learner accuracy', 'ONNX float',
                      'ONNX int8', 'int8 change', 'model.pkl', 'model.onnx', 'int8 .onnx'], acc_rows)
    table += '\n\n' + md_table(['FSDD, 256 validation files, batches of 32', 'files/s', 'vs predict_files'], speed)
    table += '\n\n' + md_table(['one 1 s clip, one thread', 'ms'], lat)
    table += '\n\n' + md_table(['a new process: import, load, predict one file (one thread)', 'seconds', 'peak MB'], fr)
    write_result('onnx_export', 'ONNX export: accuracy, size and speed against the learner (CPU)', table,
                 "Aims: the ONNX predictor at least 2x `predict_files`' files per second; a new process's import and first "
                 "prediction under 1 s and 300 MB for resnet18. int8: onnxruntime's dynamic quantisation of the model's weights "
                 "(the DFT front end stays float); `export_onnx(quantize=True)` warns when a probability on its check clips "
                 "moves by more than 0.01 or a top label changes. Accuracy is on each validation set, the learner's through `predict_files`.")
