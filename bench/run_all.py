"Run every benchmark in bench/ and rewrite BENCHMARKS.md from their sections (`make bench`)."
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent
DOC = BENCH.parent / 'BENCHMARKS.md'
ORDER = ['spectrogram', 'pipeline', 'overhead', 'onnx_export', 'predict_memory', 'gpu', 'distributed', 'hf_models', 'training', 'accuracy', 'loso_ablation', 'recipes', 'tutorials', 'imbalance', 'events', 'annotated', 'embeddings', 'embeddings_pooling', 'embeddings_speech', 'agile', 'pretrained', 'pretrained_imagenet']
HEADER = ("# Benchmarks\n\nWritten by `make bench` (`bench/run_all.py`), one section per script in `bench/`. Ratios are measured "
          "within one run on one machine; absolute times on a shared machine are noisy.\n")


def sections(text):
    """The sections of BENCHMARKS.md: `({script: section}, [notes])`, a section by the script its `Re-run:` line names,
    and the written notes (sections without one, such as how the recipes were chosen) in their order."""
    runs, notes = {}, []
    for part in re.split(r'(?m)^(?=## )', text):
        if not part.startswith('## '): continue
        m = re.search(r'(?m)^Re-run:[^\n]*?bench/(\w+)\.py', part)
        if m: runs[m.group(1)] = part.rstrip('\n') + '\n'
        else: notes.append(part.rstrip('\n') + '\n')
    return runs, notes


def gather(doc=DOC, out=BENCH / 'out'):
    "BENCHMARKS.md from out/NAME.md where a script ran here, else the section it already holds; then the notes it holds."
    old, notes = sections(doc.read_text()) if doc.exists() else ({}, [])
    parts = [HEADER]
    for name in ORDER:
        f = out / f'{name}.md'
        parts.append(f.read_text() if f.exists() else old.get(name, f"## {name}\n\nRe-run: `.venv/bin/python bench/{name}.py` (not run yet).\n"))
    doc.write_text('\n'.join(parts + notes))


if __name__ == '__main__':
    only = sys.argv[1:] or ORDER
    for name in only:
        subprocess.run([sys.executable, str(BENCH / f'{name}.py')], check=True)
    gather()
