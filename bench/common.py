"Shared helpers of the benchmarks: machine description, FSDD paths, timing, and the BENCHMARKS.md table writer."
import os
import platform
import time
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT.parent / 'shared' / 'data' / 'fsdd' / 'recordings'
OUT = ROOT / 'bench' / 'out'
SPEAKERS = ('george', 'jackson', 'lucas', 'nicolas', 'yweweler')


def machine():
    "CPU model, cores, GPU and library versions, for the header of each table."
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    import fastai, timm, librosa
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'
    return (f"{cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, GPU: {gpu}; python {platform.python_version()}, "
            f"torch {torch.__version__}, fastai {fastai.__version__}, timm {timm.__version__}, "
            f"librosa {librosa.__version__}; {date.today().isoformat()}")


def best_of(fn, repeat=5, warmup=1):
    "The best wall time of `repeat` calls of `fn` (after `warmup` calls), in seconds."
    for _ in range(warmup): fn()
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times)


def write_result(name, title, table, notes='', command=None):
    "Save one benchmark's markdown section to bench/out/NAME.md (run_all.py gathers them into BENCHMARKS.md)."
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = command or f".venv/bin/python bench/{name}.py"
    text = f"## {title}\n\nMachine: {machine()}.  \nRe-run: `{cmd}` (or `make bench` for all).\n\n{table}\n"
    if notes: text += f"\n{notes}\n"
    (OUT / f"{name}.md").write_text(text)
    print(text)


def run_resumable(name, rows, cols, run, done=lambda r: True, store=None):
    """Run `run(row, col)` for every cell not yet in bench/out/NAME.json, or in the file `store` (tracked results that
    must outlive a checkout), or whose result fails `done`; save each result as it comes so an interrupted benchmark
    resumes; return all the results, `{row: {col: result}}`."""
    import json
    store = Path(store) if store else OUT / f'{name}.json'
    store.parent.mkdir(parents=True, exist_ok=True)
    load = lambda: json.loads(store.read_text()) if store.exists() else {}
    res = load()
    for r in rows:
        for c in cols:
            if c in res.get(r, {}) and done(res[r][c]): continue
            out = run(r, c)
            res = load()  # merge: another run may have written since
            res.setdefault(r, {})[c] = out
            store.write_text(json.dumps(res, indent=1))
            print(r, c, out, flush=True)
    return res


def md_table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(' --- ' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return '\n'.join(lines)


def bare_mel(sr, n_fft, hop_length, n_mels, device, db=False, win_length=None):
    "The limit a batch transform is measured against: torch.stft, librosa's HTK mel filters as one matmul, optionally dB."
    import librosa
    window = torch.hann_window(win_length or n_fft, device=device)
    fb = torch.tensor(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=True, norm=None), device=device)
    def mel(x):
        X = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop_length, win_length or n_fft, window=window, return_complex=True)
        S = (fb @ X.abs().pow(2)).reshape(*x.shape[:-1], n_mels, -1)
        if not db: return S
        d = 10 * torch.log10(S.clamp(min=1e-10))
        return torch.maximum(d, d.amax(dim=(-3, -2, -1), keepdim=True) - 80.)
    return mel
