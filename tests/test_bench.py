"`make bench` rewrites BENCHMARKS.md from the scripts' sections: nothing written by hand is lost."
import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location('run_all', ROOT / 'bench' / 'run_all.py')
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)


def test_gather_keeps_the_file_as_it_is_when_nothing_ran(tmp_path):
    doc = tmp_path / 'BENCHMARKS.md'
    doc.write_text((ROOT / 'BENCHMARKS.md').read_text())
    (tmp_path / 'out').mkdir()
    run_all.gather(doc, tmp_path / 'out')
    assert doc.read_text() == (ROOT / 'BENCHMARKS.md').read_text()


def test_a_new_section_replaces_its_script_s_and_the_notes_stay(tmp_path):
    doc, out = tmp_path / 'BENCHMARKS.md', tmp_path / 'out'
    out.mkdir()
    doc.write_text(run_all.HEADER + "\n## Recipes\n\nRe-run: `.venv/bin/python bench/recipes.py`.\n\nold table\n"
                   "\n## How the recipes were chosen\n\nMeasured with `bench/recipes.py`: the ablations.\n")
    (out / 'recipes.md').write_text("## Recipes\n\nRe-run: `.venv/bin/python bench/recipes.py`.\n\nnew table\n")
    run_all.gather(doc, out)
    text = doc.read_text()
    assert 'new table' in text and 'old table' not in text
    assert text.count('## How the recipes were chosen') == 1 and 'the ablations' in text   # a note names a script, yet stays
    assert text.index('new table') < text.index('the ablations')
    assert '## spectrogram\n\nRe-run: `.venv/bin/python bench/spectrogram.py` (not run yet).' in text
