"Run every benchmark in bench/ and rewrite BENCHMARKS.md from their sections (`make bench`)."
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent
ORDER = ['spectrogram', 'pipeline', 'training', 'accuracy', 'loso_ablation', 'tutorials']


def gather():
    parts = ["# Benchmarks\n\nWritten by `make bench` (`bench/run_all.py`), one section per script in `bench/`. Ratios are measured "
             "within one run on one machine; absolute times on a shared machine are noisy.\n"]
    for name in ORDER:
        f = BENCH / 'out' / f'{name}.md'
        parts.append(f.read_text() if f.exists() else f"## {name}\n\nNot run yet: `.venv/bin/python bench/{name}.py`.\n")
    (BENCH.parent / 'BENCHMARKS.md').write_text('\n'.join(parts))


if __name__ == '__main__':
    only = sys.argv[1:] or ORDER
    for name in only:
        subprocess.run([sys.executable, str(BENCH / f'{name}.py')], check=True)
    gather()
