"`make docs`: the site builds offline from the notebooks and the source, and its check finds what is missing."
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location('docs_build', ROOT / 'scripts' / 'docs.py')
docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    docs.main(out)          # exits naming what is missing when the site is not whole
    return out, docs.write_sources()


def test_a_page_per_notebook_with_its_images_and_an_api_page_per_module(site):
    out, counts = site
    assert docs.check(out, counts) == []
    assert set(counts) == {p.stem for p in (ROOT / 'nbs').glob('*.ipynb')}
    assert sum(counts.values()) >= 20, counts               # the notebooks are committed with their figures
    home = (out / 'index.html').read_text()
    assert 'fastaudio_lite' in home and '14_tutorial_esc10.html' in home and 'search.html' in home
    assert 'searchindex.js' in (out / 'search.html').read_text()   # search reads the index from a script: works from disk
    api = (out / 'api' / 'fastaudio_lite' / 'recipes' / 'index.html').read_text()
    assert 'recipe_for' in api and 'Recipe' in api and 'The kind of sound' in api   # signatures and docstrings
    for page in out.rglob('*.html'):   # nothing is fetched from the network: the folder works offline
        assert not re.search(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', page.read_text()), page


def test_hidden_cells_are_left_out_and_directives_removed(site):
    out, _ = site
    core = re.sub(r'<[^>]+>', '', (out / '01_core.html').read_text())   # the text, without the highlighting's tags
    assert '#| export' not in core and '#| hide' not in core and 'default_exp' not in core
    assert 'class AudioTensor(MetaTensor)' in core          # exported code is shown


def test_the_check_names_a_missing_image_and_a_missing_page(site, tmp_path):
    out, counts = site
    broken = tmp_path / 'broken'
    shutil.copytree(out, broken)
    for f in (broken / '_images').iterdir(): f.unlink()
    (broken / '11_tutorial_raw_waveform.html').unlink()
    missing = docs.check(broken, counts)
    assert '11_tutorial_raw_waveform.html: no page' in missing
    assert any(m.startswith('14_tutorial_esc10.html: 0 of its') for m in missing), missing


def test_the_readme_recipe_table_says_what_the_presets_and_recipes_are():
    "Each kind's row: rate, mel bands, lowest frequency, window and hop as `spectrogram.presets` has them; epochs, batch, shifts as `recipes.recipes`."
    from fastaudio_lite.recipes import recipes
    from fastaudio_lite.spectrogram import presets
    text = (ROOT / 'README.md').read_text().split('## The recipes', 1)[1].split('\n## ', 1)[0]
    found = re.findall(r'^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$', text, re.M)
    specs, rows = {k: s.strip() for k, s, _ in found}, {k: t.strip() for k, _, t in found}
    assert set(rows) == set(presets) == set(recipes), rows
    for kind, spec in specs.items():
        p = presets[kind]
        m = re.fullmatch(r'([\d,]+) (k?)Hz, (\d+) mel bands from (\d+) Hz, in dB; (\d+) ms windows, (\d+) ms hop', spec)
        assert m, spec
        sr = int(m[1].replace(',', '')) * (1000 if m[2] else 1)
        assert (sr, int(m[3]), float(m[4]), int(m[5]), int(m[6])) == (p['sr'], p['n_mels'], p['f_min'], round(p['win_s'] * 1000), round(p['hop_s'] * 1000)), kind
    r = recipes
    for kind in ('speech', 'sound'):
        train = rows[kind]
        assert f"{r[kind].epochs} epochs" in train and f"batches of {r[kind].bs}" in train, kind
        assert f"up to {r[kind].augment['shift']['max_shift_s']:g} s" in train and f"up to {r[kind].augment['specaug']['max_time_frames']} frames" in train, kind
    assert 'label smoothing 0.1' in rows['speech'] and r['speech'].label_smoothing == 0.1 and f"alpha {r['speech'].mixup:g}" in rows['speech']
    assert f"over the last {r['speech'].average:g} of the steps" in rows['speech'] and r['sound'].average == 0 and 'without weight averaging' in rows['sound']
    same = lambda a, b: {k: v for k, v in vars(a).items() if k not in ('kind', 'max_duration')} == {k: v for k, v in vars(b).items() if k not in ('kind', 'max_duration')}
    assert same(r['music'], r['sound']) and f"clips up to {r['music'].max_duration:g} s" in rows['music']
