"Run every benchmark in bench/ and rewrite BENCHMARKS.md from their sections (`make bench`)."
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent
DOC = BENCH.parent / 'BENCHMARKS.md'
ORDER = ['spectrogram', 'pipeline', 'predict_memory', 'gpu', 'distributed', 'hf_models', 'training', 'accuracy', 'loso_ablation', 'recipes', 'tutorials']
HEADER = ("# Benchmarks\n\nWritten by `make bench` (`bench/run_all.py`), one section per script in `bench/`. Ratios are measured "
          "within one run on one machine; absolute times on a shared machine are noisy.\n")


def sections(text):
    "The sections of BENCHMARKS.md, by the script their Re-run line names."
    parts = re.split(r'(?m)^(?=## )', text)
    return {m.group(1): p.rstrip('\n') + '\n' for p in parts if (m := re.search(r'bench/(\w+)\.py', p)) and p.startswith('## ')}


def gather():
    "BENCHMARKS.md from bench/out/NAME.md where a script ran here, else the section it already holds."
    old = sections(DOC.read_text()) if DOC.exists() else {}
    parts = [HEADER]
    for name in ORDER:
        f = BENCH / 'out' / f'{name}.md'
        parts.append(f.read_text() if f.exists() else old.get(name, f"## {name}\n\nNot run yet: `.venv/bin/python bench/{name}.py`.\n"))
    DOC.write_text('\n'.join(parts))


if __name__ == '__main__':
    only = sys.argv[1:] or ORDER
    for name in only:
        subprocess.run([sys.executable, str(BENCH / f'{name}.py')], check=True)
    gather()
