"""Two CPU processes (gloo, torchrun) against one (issue 16): `fastaudio-lite train` on FSDD's official split, SpecCNN on
8 kHz mel spectrograms, 4 epochs, the same total batch size (64 in one process, 32 in each of two), seeds 42 and 43.

On a 2-core machine two processes share the cores that one process's two threads use, so this measures what the
distributed path costs and that it learns the same, not a speed-up; on a machine with a GPU per process each process
adds a GPU.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FSDD, ROOT, md_table, write_result

CLI = str(ROOT / '.venv' / 'bin' / 'fastaudio-lite')
EPOCHS = 4


def train(procs, seed):
    out = Path(tempfile.mkdtemp())
    bs = 64 // procs
    launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(procs), CLI] if procs > 1 else [CLI]
    args = launch + ['train', str(FSDD), '--label', r'^(\d)_', '--valid-re', r'_[0-4]\.wav$', '--sr', '8000', '--arch', 'SpecCNN',
                     '--epochs', str(EPOCHS), '--lr', '3e-3', '--bs', str(bs), '--seed', str(seed), '--out', str(out), '--force']
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / 'metrics.json').read_text())
    return m['train_seconds'] / EPOCHS, m['accuracy']


if __name__ == '__main__':
    rows, acc = [], {}
    for procs in (1, 2):
        res = [train(procs, seed) for seed in (42, 43)]
        acc[procs] = [r[1] for r in res]
        rows.append([f"{procs} process{'es' if procs > 1 else ''}, batches of {64 // procs} each", f"{res[0][0]:.1f}", f"{res[1][0]:.1f}",
                     f"{res[0][1]:.3f}", f"{res[1][1]:.3f}"])
        print(rows[-1], flush=True)
    write_result('distributed', 'Two CPU processes against one (FSDD official split, SpecCNN, 4 epochs)',
                 md_table(['run', 's/epoch seed 42', 's/epoch seed 43', 'accuracy seed 42', 'accuracy seed 43'], rows),
                 "Same total batch size (64). Seconds per epoch include each epoch's validation; on 2 cores the two processes "
                 "share the cores that one process's threads use (torchrun gives each process one thread), so this is not a "
                 "scaling figure. Accuracy, two processes minus one: "
                 f"seed 42 {acc[2][0] - acc[1][0]:+.3f}, seed 43 {acc[2][1] - acc[1][1]:+.3f}; the two one-process seeds differ "
                 f"by {abs(acc[1][0] - acc[1][1]):.3f} between themselves, so after four epochs single runs move this much and "
                 "two seeds cannot tell a difference of this size from noise.")
