"""Annotated recordings for the tests (issue 56): noise with short beeps planted at known times, and their boxes as a
Raven selection table or an Audacity label track, one per recording."""
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 8000
BEEP_HZ, BEEP_S = 1500, 0.3


def beep(rng):
    "A 0.3-s tone at 1.5 kHz, faded in and out."
    t = np.arange(int(BEEP_S * SR)) / SR
    return 0.3 * np.sin(2 * np.pi * BEEP_HZ * t) * np.hanning(len(t)) ** 0.2 * rng.uniform(0.6, 1.0)


def recordings(d, n=6, seconds=8.0, beeps=3, seed=0):
    "`n` recordings of `seconds` under `d`/rec (noise, `beeps` beeps each), with their tables under `d`/ann (Raven for even ones, Audacity for odd); returns `{file: [(onset, offset)]}`."
    rng = np.random.default_rng(seed)
    (d / 'rec').mkdir(parents=True, exist_ok=True)
    (d / 'ann').mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(n):
        x = rng.normal(0, 0.05, int(seconds * SR))
        slots = rng.choice(np.arange(0.5, seconds - 1, 1.0), beeps, replace=False)
        boxes = []
        for s in sorted(slots):
            on = float(s + rng.uniform(0, 0.4))
            k = int(on * SR)
            x[k:k + int(BEEP_S * SR)] += beep(rng)
            boxes.append((round(on, 3), round(on + BEEP_S, 3)))
        f = d / 'rec' / f'rec{i}.wav'
        sf.write(f, x.astype(np.float32), SR)
        truth[f] = boxes
        if i % 2 == 0:
            rows = ['Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tAnnotation']
            rows += [f"{j}\tSpectrogram 1\t1\t{on}\t{off}\t1200\t1800\tbeep" for j, (on, off) in enumerate(boxes, 1)]
            (d / 'ann' / f'rec{i}.Table.1.selections.txt').write_text('\n'.join(rows) + '\n')
        else:
            (d / 'ann' / f'rec{i}.txt').write_text(''.join(f"{on}\t{off}\tbeep\n" for on, off in boxes))
    return truth
