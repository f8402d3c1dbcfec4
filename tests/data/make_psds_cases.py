"""Writes psds_cases.json: random frame scores and annotations, and the PSDS sed_scores_eval 0.0.4 gives them, for
tests/test_events.py.

Run with a Python that has sed_scores_eval (it is not among the library's dependencies):
    python -m venv /tmp/sse && /tmp/sse/bin/pip install sed_scores_eval==0.0.4 && /tmp/sse/bin/python tests/data/make_psds_cases.py
"""
import json
from pathlib import Path

import numpy as np
from sed_scores_eval import intersection_based
from sed_scores_eval.base_modules.scores import create_score_dataframe

# DCASE's PSDS1 and PSDS2 criteria, and a third; the cases last seconds, so a false positive is thousands per hour: the
# areas are taken up to eFPRs that reach them
SETTINGS = [dict(dtc_threshold=0.7, gtc_threshold=0.7, alpha_st=1., max_efpr=20000.),
            dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5, alpha_st=1., max_efpr=20000.),
            dict(dtc_threshold=0.5, gtc_threshold=0.5, max_efpr=5000.)]


def case(rng):
    classes = [f"c{i}" for i in range(int(rng.integers(1, 4)))]
    files, gt, durations = {}, {}, {}
    for f in range(int(rng.integers(1, 4))):
        n = int(rng.integers(5, 60))
        t = np.concatenate([[0.], np.cumsum(rng.uniform(0.05, 0.5, n))]).round(3)
        p = rng.uniform(0, 1, (n, len(classes)))
        if rng.random() < 0.5: p = p.round(1)   # ties
        name = f"rec{f}"
        files[name] = dict(timestamps=t.tolist(), scores=p.tolist())
        durations[name] = float(t[-1]) + float(rng.uniform(0, 1))
        evs = []
        for c in classes:   # sed_scores_eval takes no overlapping events of one class
            at = float(rng.uniform(0, t[-1] / 2 if f == 0 else 2))
            for _ in range(int(rng.integers(1 if f == 0 else 0, 4))):   # each class annotated somewhere
                on, off = round(at, 3), round(min(at + float(rng.uniform(0.05, 3)), t[-1]), 3)
                if off - on < 0.05: break
                evs.append((on, off, c))
                at = off + float(rng.uniform(0.05, 2))
        gt[name] = sorted(evs)
    return dict(classes=classes, files=files, ground_truth=gt, durations=durations)


def main():
    rng = np.random.default_rng(0)
    out = []
    for _ in range(30):
        c = case(rng)
        scores = {f: create_score_dataframe(np.array(v['scores']), np.array(v['timestamps']), c['classes']) for f, v in c['files'].items()}
        c['psds'] = []
        for s in SETTINGS:
            if 'cttc_threshold' in s and len(c['classes']) == 1: continue   # cross triggers need another class (sed_scores_eval fails on none)
            value, per_class, _, _ = intersection_based.psds(scores, c['ground_truth'], c['durations'], **s)
            c['psds'].append(dict(settings=s, value=float(value), per_class={k: float(v) for k, v in per_class.items()}))
        out.append(c)
    (Path(__file__).parent / 'psds_cases.json').write_text(json.dumps(dict(source='sed_scores_eval 0.0.4', cases=out)))
    print(len(out), 'cases', [round(c['psds'][0]['value'], 4) for c in out[:10]])


if __name__ == '__main__':
    main()
