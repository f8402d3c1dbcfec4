"""Run the tutorial notebooks (nbs/*_tutorial_*.ipynb) in full, not in the reduced form nbdev-test uses, and collect
their result tables into BENCHMARKS.md. The executed notebooks are saved to bench/out/ for reading.

    .venv/bin/python bench/tutorials.py [NAME_PART ...]    (--collect: only rebuild the section from earlier runs)
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, OUT, ROOT, write_result
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell


def tables(nb):
    "The text of every table (DataFrame or Series) the notebook displayed."
    out = []
    for c in nb.cells:
        for o in c.get('outputs', []):
            text = o.get('data', {}).get('text/plain')
            if text and ('accuracy' in ''.join(text) or 'DataFrame' in ''.join(text)): out.append(''.join(text))
    return out


if __name__ == '__main__':
    os.environ.pop('IN_TEST', None)
    os.environ.setdefault('FSDD', str(FSDD))                                   # the full data sets, not tests/data's samples
    os.environ.setdefault('ESC10', str(ROOT.parent / 'shared' / 'data' / 'esc10'))
    OUT.mkdir(parents=True, exist_ok=True)
    picks = sys.argv[1:]
    collect_only = picks == ['--collect']
    nbs = [] if collect_only else [p for p in sorted((ROOT / 'nbs').glob('*_tutorial_*.ipynb')) if not picks or any(k in p.name for k in picks)]
    sections = []
    for p in nbs:
        nb = read_nb(p)
        t = time.time()
        cwd = os.getcwd()
        os.chdir(p.parent)
        try: CaptureShell().run_all(nb, exc_stop=True)
        finally: os.chdir(cwd)
        write_nb(nb, OUT / p.name)
        body = '\n\n'.join(f"```\n{t_}\n```" for t_ in tables(nb))
        sections.append(f"### {p.stem}\n\nRun in full in {(time.time() - t) / 60:.1f} min.\n\n{body}")
        (OUT / f"tutorial_{p.stem}.md").write_text(sections[-1] + '\n')
        print(sections[-1], flush=True)
    parts = sorted(OUT.glob('tutorial_*.md'))
    write_result('tutorials', 'Tutorials run in full (FSDD, official split unless the notebook says otherwise)',
                 '\n\n'.join(f.read_text() for f in parts) if parts else 'No tutorial has been run in full yet.',
                 "Seconds depend on what else the machine was doing during each run: compare the rows of one table. "
                 "Tutorials without a section here have not been run in full.",
                 command='.venv/bin/python bench/tutorials.py')
