"""Events in soundscapes with known events (issue 44): spoken digits mixed into rain and sea waves at 0, 10 and 20 dB.

The model: the speech recipe (`recipe_for`: 1 s clips at 8 kHz, resnet18 from random weights) for `--epochs`, on
eleven classes: FSDD's ten digits said by four speakers (george, jackson, lucas, nicolas; recordings 5-49) and
`background`, one-second pieces of ESC-10's rain and sea waves of folds 1-3 and of white and pink noise.

The soundscapes (60 s at 8 kHz each): a background of ESC-10 rain or sea-wave clips, one after another, and a digit
every 1-3 s, each at its soundscape's SNR (the digit's RMS over its spoken part against the background's over the
same span); one digit in five starts halfway through the one before it, so events overlap. The reference events are
the spoken part of each digit (10 ms frames within 35 dB of its loudest).

- Tuning set: recordings 0-4 of the four training speakers (never trained on), backgrounds of ESC-10 fold 4; four
  soundscapes per SNR. The window (1 s, the clip; 0.7 or 0.5 s), threshold, median filter, minimum duration and merge gap
  are chosen on it: the best mean event-based F1 over its twelve soundscapes.
- Test set: yweweler, the speaker training never heard, backgrounds of ESC-10 fold 5; eight soundscapes per SNR.

Event-based F1 (collar 0.5 s, offsets within the larger of the collar and half the event) and segment-based F1 (1 s),
micro over all classes, as `evaluate_events` (and sed_eval) computes them; hop 0.1 s. Then an hour-long recording
(the test soundscapes one after another) through `fastaudio-lite predict --events` with the default hop, from the
ONNX file and from model.safetensors: seconds of audio per second of wall time, and peak memory (the process's max
RSS). Each seed's results go to bench/out/events.json; an interrupted run resumes.

    python bench/events.py [--seeds 42,43] [--epochs 15] [--report] [--quick]
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, machine, md_table, write_result
from fastai.data.all import FuncSplitter
from fastaudio_lite.datasets import esc_fold
from fastaudio_lite.decode import find_audio, read_clip
from fastaudio_lite.events import Event, evaluate_events, find_events
from fastaudio_lite.inference import predict_windows
from fastaudio_lite.recipes import recipe_for

SR, SCAPE_S, HOP = 8000, 60, 0.1
DATA = ROOT.parent / 'shared' / 'data'
TRAIN_SPK, TEST_SPK = ('george', 'jackson', 'lucas', 'nicolas'), 'yweweler'
SNRS = (0, 10, 20)
BACKGROUNDS = ('002 - Rain', '003 - Sea waves')
GRID = dict(threshold=(0.3, 0.5, 0.7, 0.9), median=(1, 3, 5, 7), min_dur=(0., 0.1, 0.2, 0.3), merge_gap=(0., 0.1, 0.2))
DEFAULTS = dict(threshold=0.5, median=3, min_dur=0., merge_gap=0.)   # find_events' own
WINDOWS = (1.0, 0.7, 0.5)
OUT = Path(os.environ.get('OUT') or ROOT / 'bench' / 'out')
QUICK = False   # --quick: a check that the script runs (1 soundscape per SNR, 4 settings, 3 minutes for the hour)


def fsdd(speakers, recordings):
    return sorted(f for f in (DATA / 'fsdd' / 'recordings').glob('*.wav')
                  if f.stem.split('_')[1] in speakers and int(f.stem.split('_')[2]) in recordings)


def esc(folds):
    return [f for f in find_audio(DATA / 'esc10') if Path(f).parent.name in BACKGROUNDS and esc_fold(f) in folds]


def background_clips(d, rng):
    "One-second background clips: ESC-10 rain and sea waves of folds 1-3, cut in five, and white and pink noise."
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for f in esc((1, 2, 3)):
        x = read_clip(f, SR, True)[0]
        for i in range(len(x) // SR):
            piece = x[i * SR:(i + 1) * SR]
            if np.sqrt(np.mean(piece ** 2)) < 1e-4: continue   # ESC's padding silence
            files.append(d / f"{Path(f).stem}_{i}.wav"); sf.write(files[-1], piece, SR)
    for i in range(100):
        w = rng.normal(0, 1, SR)
        if i % 2: w = np.cumsum(w); w -= np.convolve(w, np.ones(400) / 400, 'same')   # reddened: a pink-ish noise
        files.append(d / f"noise_{i}.wav"); sf.write(files[-1], (w / np.abs(w).max() * rng.uniform(0.05, 0.5)).astype(np.float32), SR)
    return files


def spoken(x):
    "`(start, end)` samples of the spoken part: 10 ms frames within 35 dB of the loudest."
    fr = 80
    e = np.array([np.mean(x[i:i + fr] ** 2) for i in range(0, len(x) - fr + 1, fr)]) + 1e-12
    on = np.flatnonzero(10 * np.log10(e / e.max()) > -35)
    return on[0] * fr, min(len(x), (on[-1] + 1) * fr)


def soundscape(path, digits, backs, snr, rng):
    "A 60 s soundscape at `snr` dB: `backs` one after another, digits every 1-3 s, one in five overlapping; its events."
    n = SCAPE_S * SR
    bg = np.concatenate([read_clip(f, SR, True)[0] for f in rng.permutation(backs)])
    while len(bg) < n: bg = np.concatenate([bg, bg])
    bg = bg[:n] / (np.sqrt(np.mean(bg[:n] ** 2)) + 1e-9) * 0.05
    x, events, t = bg.copy(), [], rng.uniform(0.5, 2)
    while True:
        f = digits[rng.integers(len(digits))]
        y = read_clip(f, SR, True)[0]
        s, e = spoken(y)
        y = y[s:e]
        if events and rng.random() < 0.2: t = events[-1].onset + 0.5 * (events[-1].offset - events[-1].onset)   # overlaps the one before
        a = int(t * SR)
        if a + len(y) > n - SR // 2: break
        ref = np.sqrt(np.mean(bg[a:a + len(y)] ** 2)) + 1e-9
        x[a:a + len(y)] += y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * ref * 10 ** (snr / 20)
        events.append(Event(path.name, Path(f).name.split('_')[0], round(a / SR, 3), round((a + len(y)) / SR, 3)))
        t = events[-1].offset + rng.uniform(1, 3)
    x /= max(1., np.abs(x).max() / 0.99)
    sf.write(path, x.astype(np.float32), SR)
    return events


def scapes(d, name, digits, backs, per_snr, seed):
    "The soundscapes of a set, made once: `[(path, snr, events)]`."
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    return [(d / f"{name}_{snr}dB_{i}.wav", snr, soundscape(d / f"{name}_{snr}dB_{i}.wav", digits, backs, snr, rng))
            for snr in SNRS for i in range(per_snr)]


def windows_of(learn, sets, window):
    "Each soundscape's windowed scores, `[(starts, ends, probs)]` in one batch each, computed once per window length."
    out = []
    for p, _, _ in sets:
        bs = [(np.asarray(s), np.asarray(e), np.asarray(q)) for s, e, q in predict_windows(learn, p, HOP, 64, window)]
        out.append([tuple(np.concatenate([b[i] for b in bs]) for i in range(3))])
    return out


def score(wins, sets, labels, settings):
    "Event- and segment-based scores of `settings` on each SNR and over all."
    found = {p: list(find_events(w, labels, p.name, background='background', **settings)) for w, (p, _, _) in zip(wins, sets)}
    out = {}
    for snr in SNRS + ('all',):
        sel = [(p, ev) for p, s, ev in sets if snr == 'all' or s == snr]
        m = evaluate_events([e for p, _ in sel for e in found[p]], [e for _, ev in sel for e in ev])
        out[str(snr)] = dict(event_f1=m['event']['f1'], event_p=m['event']['precision'], event_r=m['event']['recall'],
                             segment_f1=m['segment']['f1'], n_ref=m['n_reference'], n_pred=m['n_predicted'])
    return out


def hour_run(model, hour):
    "Wall time and peak RSS (VmHWM) of `fastaudio-lite predict MODEL HOUR --events`, in its own process."
    t = time.time()
    p = subprocess.Popen([sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())', 'predict', str(model),
                          str(hour), '--events', '--background', 'background', '--csv', str(hour.with_suffix(f'.{model.suffix[1:]}.csv'))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hwm = 0   # the child's own peak (VmHWM after its exec; a fork's rusage would count this process's pages)
    while p.poll() is None:
        try: hwm = max(hwm, int(next(l for l in Path(f'/proc/{p.pid}/status').read_text().splitlines() if l.startswith('VmHWM')).split()[1]))
        except (OSError, StopIteration, ValueError): pass
        time.sleep(0.05)
    status = p.returncode
    wall = time.time() - t
    err = p.stderr.read().decode()
    if status != 0: raise RuntimeError(f"predict --events on {model.name} failed: {err[-2000:]}")
    n = sum(1 for _ in open(hour.with_suffix(f'.{model.suffix[1:]}.csv'))) - 1
    return dict(audio_s=round(sf.info(hour).duration), seconds=round(wall, 1), audio_per_s=round(sf.info(hour).duration / wall, 1), peak_rss_mb=round(hwm / 1024), events=n)


def run_seed(seed, epochs, work):
    import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
    import fastaudio_lite.safe  # noqa: F401 (learn.export_safe)
    rng = np.random.default_rng(seed)
    bg = background_clips(work / 'background', np.random.default_rng(0))
    train = fsdd(TRAIN_SPK, range(5, 50))
    valid = fsdd(TRAIN_SPK, range(0, 5))[::5] + bg[::10]   # a glance at training progress; nothing is chosen on it
    train_bg = [f for f in bg if f not in set(valid)]
    items, vset = train + train_bg + valid, set(valid)
    label = lambda f: 'background' if Path(f).parent.name == 'background' else Path(f).name.split('_')[0]
    r = recipe_for(train, 'speech').but(pretrained=False, epochs=epochs)
    dls = r.dataloaders(work, items=items, get_y=label, splitter=FuncSplitter(lambda f: f in vset), seed=seed, num_workers=0)
    learn = r.learner(dls)
    t = time.time()
    with learn.no_bar(), learn.no_logging(): r.fit(learn)
    train_s = time.time() - t
    labels = list(map(str, dls.vocab))
    tune = scapes(work / 'tune', 'tune', fsdd(TRAIN_SPK, range(0, 5)), esc((4,)), 1 if QUICK else 4, 1000)
    test = scapes(work / 'test', 'test', fsdd((TEST_SPK,), range(50)), esc((5,)), 1 if QUICK else 8, 2000)
    best, grid = None, []
    for window in WINDOWS[:1] if QUICK else WINDOWS:
        wins = windows_of(learn, tune, window)
        for vals in list(itertools.product(*GRID.values()))[:4 if QUICK else None]:
            s = dict(zip(GRID, vals))
            f1 = score(wins, tune, labels, s)['all']['event_f1']
            grid.append((f1, window, s))
            if best is None or f1 > best[0]: best = (f1, window, s)
    f1, window, chosen = best
    default_tune = next((g[0] for g in grid if g[1] == 1.0 and g[2] == DEFAULTS), float('nan'))
    test_wins = {w: windows_of(learn, test, w) for w in {window, 1.0}}
    res = dict(seed=seed, epochs=epochs, train_s=round(train_s), window=window, chosen=chosen, tune_f1=round(f1, 4),
               tune_default_f1=round(default_tune, 4), test=score(test_wins[window], test, labels, chosen),
               test_default=score(test_wins[1.0], test, labels, DEFAULTS), n_test_events=sum(len(e) for _, _, e in test))
    # an hour: the test soundscapes (24 min) one after another, over and over
    hour = work / 'hour.wav'
    with sf.SoundFile(hour, 'w', SR, 1, 'PCM_16') as out:
        for p, _, _ in (test * 60)[:3 if QUICK else 60]: out.write(sf.read(p, dtype='float32')[0])
    learn.export_safe(work / 'model.safetensors')
    learn.export_onnx(work / 'model.onnx')
    res['hour'] = {m: hour_run(work / f'model.{m}', hour) for m in ('onnx', 'safetensors')}
    return res


def report(results):
    rows = []
    for seed, r in sorted(results.items()):
        for name, key in (('chosen', 'test'), ('defaults', 'test_default')):
            rows.append([seed, name] + [f"{r[key][str(s)]['event_f1']:.3f} / {r[key][str(s)]['segment_f1']:.3f}" for s in SNRS] +
                        [f"{r[key]['all']['event_f1']:.3f} ({r[key]['all']['event_p']:.2f}, {r[key]['all']['event_r']:.2f})",
                         f"{r[key]['all']['segment_f1']:.3f}"])
    table = md_table(['seed', 'settings'] + [f'{s} dB: event / segment F1' for s in SNRS] + ['all: event F1 (P, R)', 'all: segment F1'], rows)
    chosen = '; '.join(f"seed {s}: window {r['window']:g} s, " + ', '.join(f"{k} {v:g}" for k, v in r['chosen'].items()) +
                       f" (tuning F1 {r['tune_f1']:.3f}; the defaults {r['tune_default_f1']:.3f})" for s, r in sorted(results.items()))
    hours = md_table(['seed', 'model', 'wall s', 'audio s per s', 'peak RSS MB', 'events'],
                     [[s, m, h['seconds'], h['audio_per_s'], h['peak_rss_mb'], h['events']] for s, r in sorted(results.items()) for m, h in r['hour'].items()])
    means = {k: np.mean([r[k]['all']['event_f1'] for r in results.values()]) for k in ('test', 'test_default')}
    f1s = [r['test']['all']['event_f1'] for r in results.values()]
    gains = [r['test']['all']['event_f1'] - r['test_default']['all']['event_f1'] for r in results.values()]
    notes = (f"{next(iter(results.values()))['n_test_events']} test events in 24 soundscapes (8 per SNR, 60 s each). Settings chosen on the "
             f"tuning set: {chosen}. Mean event F1 over seeds: chosen {means['test']:.3f}, defaults (threshold 0.5, median 3, the clip as "
             f"window) {means['test_default']:.3f}. The seeds' overall event F1 differ by {max(f1s) - min(f1s):.3f}; the chosen settings "
             f"beat the defaults by {min(gains):.3f} to {max(gains):.3f} in each seed, well beyond that spread (with the defaults, recall is "
             f"{min(r['test_default']['all']['event_r'] for r in results.values()):.2f}-{max(r['test_default']['all']['event_r'] for r in results.values()):.2f}: most of these short words are missed). The model trained {next(iter(results.values()))['epochs']} epochs "
             f"({', '.join(str(r['train_s']) for r in results.values())} s; the first shared the CPU with other work). A single-label model reports one class at a time, so of two "
             f"overlapping digits at most one is found (one digit in five overlaps another).\n\nOne hour (the 24 test soundscapes one after "
             f"another, over and over), `fastaudio-lite predict MODEL hour.wav --events --background background --csv ...`, default hop (0.5 s), each in "
             f"its own process; peak RSS includes the interpreter and torch or onnxruntime:\n\n{hours}")
    return table, notes


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seeds', default='42,43')
    p.add_argument('--epochs', type=int, default=15)
    p.add_argument('--report', action='store_true')
    p.add_argument('--quick', action='store_true', help='check that it runs: tiny sets, results not kept')
    a = p.parse_args()
    global QUICK
    QUICK = a.quick
    store = OUT / 'events.json'
    OUT.mkdir(parents=True, exist_ok=True)
    results = json.loads(store.read_text()) if store.exists() else {}
    if not a.report:
        print(machine(), flush=True)
        for seed in map(int, a.seeds.split(',')):
            if str(seed) in results and results[str(seed)]['epochs'] == a.epochs: continue
            torch.manual_seed(seed)
            with tempfile.TemporaryDirectory() as d:
                results[str(seed)] = run_seed(seed, a.epochs, Path(d))
            store.write_text(json.dumps(results, indent=1))
            print(json.dumps(results[str(seed)]), flush=True)
    table, notes = report(results)
    write_result('events', 'Events in soundscapes: spoken digits in rain and sea waves', table, notes)


if __name__ == '__main__':
    main()
