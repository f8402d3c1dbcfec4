"""A plain install works: with every optional extra unimportable, the library imports, the command trains and predicts,
and each feature of an extra says which extra to install. `make test-install` does the same from the wheel in a new venv."""
import configparser
import importlib.metadata as md
import re
import subprocess
import sys

import pytest
from conftest import ROOT


def extra_modules():
    "The top-level modules of the packages that settings.ini's extras (other than dev) add: refused in these tests."
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    d = cfg['DEFAULT']
    extras = [k[:-len('_requirements')] for k in d if k.endswith('_requirements') and k != 'dev_requirements']
    dists = {re.split(r'[<>=!~\[; ]', r)[0].lower().replace('_', '-') for e in extras for r in d[f'{e}_requirements'].split()}
    mods = {m for m, ds in md.packages_distributions().items() for dist in ds if dist.lower().replace('_', '-') in dists}
    return extras, dists, mods


EXTRAS, DISTS, BLOCKED = extra_modules()

# As if not installed: every import finder answers "not found" for the modules of every extra, so `import accelerate`
# fails and `importlib.util.find_spec('onnx')` is None (torch asks that way), and nothing else changes.
REFUSE = f'''
import sys
BLOCKED = {sorted(BLOCKED)!r}
class Hide:
    def __init__(self, finder): self.finder = finder
    def find_spec(self, name, path=None, target=None):
        return None if name.split('.')[0] in BLOCKED else self.finder.find_spec(name, path, target)
    def __getattr__(self, attr): return getattr(self.finder, attr)
sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
'''


def run(code, *args, cwd=None):
    return subprocess.run([sys.executable, '-c', REFUSE + code, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_the_refused_modules_are_the_extras():
    "The guard refuses what the extras install (so the tests below cannot pass with an extra present)."
    assert {'dist', 'hf', 'demo', 'onnx', 'serve', 'docs'} <= set(EXTRAS)
    assert {'accelerate', 'transformers', 'espeakng_loader', 'onnx', 'onnxruntime', 'gradio', 'sphinx'} <= BLOCKED, BLOCKED
    r = run('import accelerate')
    assert r.returncode != 0 and "No module named 'accelerate'" in r.stderr


def test_imports_without_extras():
    r = run('''
import pkgutil, importlib, sys
import fastaudio_lite
from fastaudio_lite.all import *
for m in pkgutil.iter_modules(fastaudio_lite.__path__):
    try: importlib.import_module(f"fastaudio_lite.{m.name}")
    except ImportError as e: print(m.name, "|", e)
leaked = sorted(n for n in sys.modules if n.split('.')[0] in BLOCKED)
print("leaked", leaked)
''')
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    # only the module that exists for an extra's feature refuses to import, and it names the extra
    assert lines[:-1] == ["distributed | distributed training needs accelerate: pip install 'fastaudio_lite[dist]'"], lines
    assert lines[-1] == 'leaked []'


def test_each_feature_names_its_extra():
    r = run('''
from fastaudio_lite.learner import AudioLearner
from fastaudio_lite.models import hf_audio_model
from fastaudio_lite.datasets import espeak_words
from fastaudio_lite.runtime import OnnxModel
from fastai.learner import Learner
import fastaudio_lite.export
from fastaudio_lite.serve import audio_demo
for name, f in [('serve', lambda: audio_demo('model.onnx')), ('dist', lambda: AudioLearner.distrib_ctx(None)), ('hf', lambda: hf_audio_model('MIT/ast-finetuned-speech-commands-v2', ['a', 'b'])),
                ('demo', lambda: espeak_words(['yes'])), ('onnx', lambda: OnnxModel('model.onnx')), ('onnx export', lambda: Learner.export_onnx(None, 'm.onnx'))]:
    try: f(); print(name, 'no error')
    except ImportError as e: print(name, '|', e)
''')
    assert r.returncode == 0, r.stderr[-3000:]
    said = dict(l.split(' | ', 1) for l in r.stdout.strip().splitlines())
    for extra in ('dist', 'hf', 'demo', 'onnx', 'serve'):
        assert f"pip install 'fastaudio_lite[{extra}]'" in said[extra], said
    assert "pip install 'fastaudio_lite[onnx]'" in said['onnx export'], said


@pytest.mark.slow
def test_train_and_predict_without_extras(fsdd, tmp_path):
    "The command, as a plain install has it: train a small model, then predict with it."
    data = tmp_path / 'data'
    data.mkdir()
    for f in sorted(fsdd.glob('[01]_*_1[0-4].wav')) + sorted(fsdd.glob('[01]_*_[0-2].wav')): (data / f.name).symlink_to(f)
    main = 'import sys; from fastaudio_lite.cli import main; sys.exit(main(sys.argv[1:]))'
    r = run(main, 'train', data, '--label', r'^(\d)_', '--valid-re', r'_[0-2]\.wav$', '--arch', 'SpecCNN',
            '--epochs', 2, '--bs', 8, '--out', tmp_path / 'out')
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / 'out' / 'model.pkl').exists() and 'validation accuracy' in r.stdout
    r = run(main, 'predict', tmp_path / 'out' / 'model.pkl', *sorted(data.glob('*_[0-2].wav'))[:3])
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [l.split('\t') for l in r.stdout.strip().splitlines()]
    assert len(rows) == 3 and all(row[1] in ('0', '1') for row in rows), rows
