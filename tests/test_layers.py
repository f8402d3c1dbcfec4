"The layers run one way: each module imports only modules of lower layers (DESIGN.md's table), at the top or in a function."
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).parents[1] / 'fastaudio_lite'
# DESIGN.md's layers, lowest first
LAYERS = [('errors',), ('decode',), ('events',), ('core', 'runtime'), ('data', 'spectrogram'), ('audioset',), ('augment', 'models', 'nets', 'distributed'), ('learner',),
          ('callbacks', 'inference'), ('datasets', 'export', 'safe'), ('recipes', 'embed'), ('dataloaders', 'heads'), ('serve', 'index'), ('label',), ('cli',), ('all',)]
LEVEL = {m: i for i, names in enumerate(LAYERS) for m in names}


def imports(path):
    "The fastaudio_lite modules `path` imports, at the top or inside any function."
    tree = ast.parse(path.read_text())
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            mod = n.module or ''
            if n.level == 1: found.add(mod.split('.')[0] if mod else None)
            elif mod.startswith('fastaudio_lite.'): found.add(mod.split('.')[1])
            elif mod == 'fastaudio_lite': found.update(a.name for a in n.names)
        elif isinstance(n, ast.Import):
            found.update(a.name.split('.')[1] for a in n.names if a.name.startswith('fastaudio_lite.'))
    return found - {None, '_modidx'}


def test_notebooks_are_numbered_in_layer_order():
    "nbs/ read in name order meets each module's notebook after the notebooks of the modules it imports."
    import json
    order = []
    for nb in sorted((PKG.parent / 'nbs').glob('[0-9]*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        exp = [''.join(c['source']).split()[-1] for c in cells if ''.join(c['source']).startswith('#| default_exp')]
        if exp: order.append((nb.name, LEVEL[exp[0]]))
    assert len(order) == len(LEVEL) - 1, order   # every module but all.py, which is written by hand
    assert [lv for _, lv in order] == sorted(lv for _, lv in order), order


def test_every_module_has_a_layer():
    mods = {p.stem for p in PKG.glob('*.py')} - {'__init__', '_modidx'}
    assert mods == set(LEVEL), mods ^ set(LEVEL)


@pytest.mark.parametrize('mod', sorted(LEVEL))
def test_imports_go_down(mod):
    up = {m for m in imports(PKG / f'{mod}.py') if m != mod and LEVEL[m] >= LEVEL[mod]}
    assert not up, f"{mod} (layer {LEVEL[mod]}) imports {sorted(up)} of the same or a higher layer"


def test_the_data_layer_never_imports_the_learner():
    assert not imports(PKG / 'data.py') & {'learner', 'recipes', 'callbacks', 'inference'}
    assert not imports(PKG / 'datasets.py') & {'learner', 'recipes', 'callbacks', 'inference'}


@pytest.mark.parametrize('mod', sorted(LEVEL))
def test_no_module_getattr_or_importlib(mod):
    "Imports the layer test can see: no module-level `__getattr__` answering for names kept elsewhere, no `importlib` imports."
    tree = ast.parse((PKG / f'{mod}.py').read_text())
    assert not [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == '__getattr__'], f"{mod} has a module __getattr__"
    names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert 'importlib' not in names and 'import_module' not in names and 'importlib' not in mods, f"{mod} imports through importlib"


@pytest.mark.parametrize('mod', sorted(LEVEL))
def test_no_module_reads_another_s_private_names(mod):
    "A name with a leading underscore is its module's own: no other module imports it or reads it as `module._name`."
    tree = ast.parse((PKG / f'{mod}.py').read_text())
    found, aliases = [], {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            src = (n.module or '').split('.')[0] if n.level == 1 else (n.module or '').split('.')[1] if (n.module or '').startswith('fastaudio_lite.') else None
            if src and src != mod: found += [f"{src}.{a.name}" for a in n.names if a.name.startswith('_')]
            if n.level == 1 and not n.module or n.module == 'fastaudio_lite': aliases.update({a.asname or a.name: a.name for a in n.names})
        elif isinstance(n, ast.Import):
            aliases.update({a.asname or a.name.split('.')[-1]: a.name.split('.')[1] for a in n.names if a.name.startswith('fastaudio_lite.')})
    found += [f"{n.value.id}.{n.attr}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
              and n.value.id in aliases and n.attr.startswith('_') and not n.attr.startswith('__')]
    assert not found, f"fastaudio_lite.{mod} reads private names of other modules: {', '.join(found)}"


def test_the_command_s_functions_are_short():
    "cli.py parses arguments and calls the library: each of its functions under 40 lines (the rules live in the library)."
    tree = ast.parse((PKG / 'cli.py').read_text())
    long = sorted((n.end_lineno - n.lineno + 1, n.name) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno + 1 >= 40)
    assert not long, f"cli.py functions of 40 lines or more: {long}"
