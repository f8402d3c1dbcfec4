"""The loaders on random and mutated input: a safe model's header, an ONNX file's metadata, labels tables, Raven and
Audacity tables, audio headers. Each case either loads or raises the library's own one-line error; none raises another
exception, none runs past a few seconds, and the process's memory stays bounded. A fixed seed: a failure repeats."""
import json
import random
import resource
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, tone_learner

from fastaudio_lite.datasets import read_labels
from fastaudio_lite.errors import TableError
from fastaudio_lite.decode import audio_windows, read_all, read_clip
from fastaudio_lite.errors import ArgumentError, AudioError
from fastaudio_lite.events import read_events
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
from fastaudio_lite.runtime import OnnxModel
from fastaudio_lite.safe import load_audio_learner
from fastaudio_lite.errors import SafeModelError
from fastaudio_lite.serve import Refused, check_recording

CASES = 400          # per loader
CASE_SECONDS = 10    # the longest a case may take
MEMORY_GB = 6        # the most the process may hold at its peak


def mutate(rng, b):
    "`b` (bytes) with a few random bytes changed, inserted, deleted, or cut short."
    b = bytearray(b)
    for _ in range(rng.randint(1, 4)):
        op, i = rng.random(), rng.randrange(max(len(b), 1))
        if op < 0.4 and b: b[i] = rng.randrange(256)
        elif op < 0.6: b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op < 0.8: del b[i:i + rng.randint(1, 16)]
        else: del b[rng.randrange(len(b) + 1):]
    return bytes(b)


def odd_value(rng):
    "A JSON value of a type or size a description would not hold."
    return rng.choice([None, True, -1, 0, 1e308, -1e-300, 1e11, 'x' * rng.randint(0, 50), [], {}, [1, 'a'], {'tensor': 'nope'},
                       [[[]]], 'NaN', 65536, 2 ** 40])


def mutate_json(rng, d):
    "`d` with one value somewhere inside it replaced by an odd one, or a key dropped."
    d = json.loads(json.dumps(d))
    node = d
    for _ in range(rng.randint(0, 3)):
        kids = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        kids = [(k, v) for k, v in kids if isinstance(v, (dict, list)) and v]
        if not kids: break
        node = rng.choice(kids)[1]
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if not keys: return d
    k = rng.choice(keys)
    if isinstance(node, dict) and rng.random() < 0.2: del node[k]
    else: node[k] = odd_value(rng)
    return d


def run_cases(loader, inputs, allowed):
    "Call `loader` on each input: it returns, or raises one of `allowed` with a message of one line; each within the time limit."
    for i, x in enumerate(inputs):
        t = time.time()
        try: loader(x)
        except allowed as e: assert str(e).strip() and '\n' not in str(e).strip(), (i, str(e)[:500])
        assert time.time() - t < CASE_SECONDS, (i, time.time() - t)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp('fuzz')
    learn = tone_learner(d)
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')
    return d


def test_safe_headers(models, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    rng = random.Random(0)
    raw = (models / 'model.safetensors').read_bytes()
    with safe_open(str(models / 'model.safetensors'), framework='pt') as f:
        d, tensors = json.loads(f.metadata()['fastaudio_lite']), {k: f.get_tensor(k) for k in f.keys()}
    def cases():
        for i in range(CASES):
            p = tmp_path / f'{i}.safetensors'
            if i % 3 == 0:   # the bytes of the header and the data, mutated
                n = int.from_bytes(raw[:8], 'little')
                p.write_bytes(raw[:8] + mutate(rng, raw[8:8 + n]) + raw[8 + n:] if i % 2 else mutate(rng, raw[:8 + n + 64]) + raw[8 + n + 64:])
            else: save_file(tensors, str(p), metadata={'fastaudio_lite': json.dumps(mutate_json(rng, d))})
            yield p
    run_cases(load_audio_learner, cases(), (SafeModelError,))


def test_onnx_metadata(models, tmp_path):
    import onnx
    rng = random.Random(1)
    base = onnx.load(str(models / 'model.onnx'))
    keys = [p.key for p in base.metadata_props]
    def cases():
        for i in range(CASES // 3):   # each builds an onnxruntime session
            m = onnx.ModelProto()
            m.CopyFrom(base)
            for p in m.metadata_props:
                if rng.random() < 0.4: p.value = rng.choice([json.dumps(odd_value(rng)), '', '[' * 5000, str(rng.random() * 10 ** rng.randint(0, 15)),
                                                             '["a", "a", "b"]', '-5', 'true', 'zeros'])
            if rng.random() < 0.2:
                k = rng.choice(keys)
                kept = [q for q in m.metadata_props if q.key != k]
                del m.metadata_props[:]
                m.metadata_props.extend(kept)
            p = tmp_path / f'{i}.onnx'
            onnx.save(m, str(p))
            yield p
    run_cases(OnnxModel, cases(), (ArgumentError,))
    def damaged():
        raw = (models / 'model.onnx').read_bytes()
        for i in range(CASES // 3):
            p = tmp_path / f'd{i}.onnx'
            p.write_bytes(mutate(rng, raw[:256]) + raw[256:])
            yield p
    run_cases(OnnxModel, damaged(), (ArgumentError,))


def test_labels_tables(tmp_path):
    rng = random.Random(2)
    data = tmp_path / 'data'
    data.mkdir()
    for i in range(4): sf.write(data / f'{i}.wav', np.zeros(800, np.float32), SR)
    good = 'file,label,fold,group\n' + ''.join(f'{i}.wav,{"ab"[i % 2]},{1 + i % 2},g{i}\n' for i in range(4))
    cells = ['', '../x.wav', '/etc/hostname', '0.wav', 'a;b;', '=1+1', '"', '\x00', 'é', '1e400', '-1', ' ', 'nan']
    def cases():
        for i in range(CASES):
            p = tmp_path / f'{i}.csv'
            if i % 2: p.write_bytes(mutate(rng, good.encode()))
            else:
                rows = [l.split(',') for l in good.splitlines()]
                for _ in range(rng.randint(1, 4)): rng.choice(rows)[rng.randrange(4)] = rng.choice(cells)
                p.write_text('\n'.join(','.join(r) for r in rows) + '\n')
            yield p
    run_cases(lambda p: read_labels(p, data), cases(), (TableError,))


def test_event_tables(tmp_path):
    rng = random.Random(3)
    raven = ('Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tAnnotation\n'
             '1\tSpectrogram 1\t1\t1.0\t2.5\t0\t4000\towl\n2\tSpectrogram 1\t1\t3.0\t3.5\t0\t4000\tfrog\n')
    audacity = '1.000000\t2.500000\towl\n\\\t100\t4000\n3.0\t3.5\tfrog\n'
    csv_ = 'file,label,onset_s,offset_s,peak,mean\nr.wav,owl,1.000,2.500,0.9,0.8\n'
    odd = ['nan', 'inf', '-1', '1e400', '', 'x', '1e12', '\t', '"']
    def cases():
        for i in range(CASES):
            base = (raven, audacity, csv_)[i % 3]
            p = tmp_path / f'{i}.txt'
            if rng.random() < 0.5: p.write_bytes(mutate(rng, base.encode()))
            else:
                lines = base.splitlines()
                j = rng.randrange(1, len(lines))
                parts = lines[j].split('\t' if i % 3 < 2 else ',')
                parts[rng.randrange(len(parts))] = rng.choice(odd)
                lines[j] = ('\t' if i % 3 < 2 else ',').join(parts)
                p.write_text('\n'.join(lines) + '\n')
            yield p
    run_cases(read_events, cases(), (ArgumentError,))


def test_audio_headers(tmp_path):
    rng = random.Random(4)
    bases = []
    for fmt, sub in (('wav', 'PCM_16'), ('flac', 'PCM_16'), ('wav', 'FLOAT'), ('aiff', 'PCM_24')):
        p = tmp_path / f'base.{fmt}'
        sf.write(p, (np.sin(np.arange(SR) / 3) * 0.3).astype(np.float32), SR, subtype=sub)
        bases.append((p.suffix, p.read_bytes()))
    def cases():
        for i in range(CASES):
            ext, raw = bases[i % len(bases)]
            p = tmp_path / f'{i}{ext}'
            p.write_bytes(mutate(rng, raw[:64]) + raw[64:])   # the header, where sizes, rates and channels are
            yield p
    def load(p):
        try: check_recording(p, 20, 60)
        except Refused: pass
        else: read_all(p, SR)   # the page decodes only what the header check let through
        x = read_clip(p, SR, True, SR)
        assert x.shape[0] == 1 and x.shape[1] <= SR
        for _ in audio_windows(p, SR, SR // 2, SR // 4): pass
    run_cases(load, cases(), (AudioError,))


def test_memory_stayed_bounded():
    "Run last in this file (pytest keeps the file's order): the peak of the process that ran every case above."
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    assert peak_gb < MEMORY_GB, peak_gb
