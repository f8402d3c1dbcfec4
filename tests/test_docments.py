"Issue 40: every public function and class of two or more parameters, in every module, documents each one (fastai's docments)."
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest
from fastcore.docments import docments

MODULES = sorted(p.stem for p in (Path(__file__).parents[1] / 'fastaudio_lite').glob('*.py') if p.stem not in ('__init__', '_modidx', 'all'))
# fastai's own protocol methods, one line each, documented where fastai defines them. A dataclass's fields carry their
# comments, and its __init__, generated from them, is not read (docments reads a function's source).
EXEMPT = {'data.FixLength.before_call', 'augment.Gain.draw'}


def signatures(m):
    mod = importlib.import_module(f'fastaudio_lite.{m}')
    for n in getattr(mod, '__all__', []):
        o = getattr(mod, n)
        if getattr(o, '__module__', None) != mod.__name__: continue
        if inspect.isfunction(o): yield n, o
        elif inspect.isclass(o):
            if '__init__' in o.__dict__ and not dataclasses.is_dataclass(o): yield n, o.__init__
            for k, v in o.__dict__.items():
                if inspect.isfunction(v) and not k.startswith('_'): yield f'{n}.{k}', v


@pytest.mark.parametrize('m', MODULES)
def test_public_signatures_have_docments(m):
    missing = []
    for name, f in signatures(m):
        if f'{m}.{name}' in EXEMPT: continue
        ps = [p for p, v in inspect.signature(f).parameters.items() if p not in ('self', 'cls') and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
        if len(ps) < 2: continue
        d = docments(f)
        missing += [f'{name}({p})' for p in ps if not d.get(p)]
    assert not missing, f"fastaudio_lite.{m}: parameters without a comment: {', '.join(missing)}"
