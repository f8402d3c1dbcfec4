"""Writes sed_eval_cases.json: random event lists and what sed_eval 0.2.1 says of them, for tests/test_events.py.

Run with a Python that has sed_eval (it is not among the library's dependencies):
    python -m venv /tmp/sedv && /tmp/sedv/bin/pip install sed_eval && /tmp/sedv/bin/python tests/data/make_sed_eval_cases.py
"""
import json
from pathlib import Path

import numpy as np
import dcase_util
import sed_eval


def events(rng, files, labels, n):
    out = []
    for _ in range(n):
        on = round(float(rng.uniform(0, 28)), 3)
        out.append(dict(file=str(rng.choice(files)), label=str(rng.choice(labels)), onset=on, offset=round(on + float(rng.uniform(0.05, 4)), 3)))
    return out


def jitter(rng, ref, files, labels):
    "A prediction near the reference: most events moved a little, some moved a lot, some dropped, some added."
    out = []
    for e in ref:
        if rng.random() < 0.15: continue
        s = 0.3 if rng.random() < 0.7 else 1.5
        on = max(0., round(e['onset'] + float(rng.normal(0, s)), 3))
        out.append(dict(e, onset=on, offset=round(max(on + 0.05, e['offset'] + float(rng.normal(0, s))), 3)))
    return out + events(rng, files, labels, int(rng.integers(0, 5)))


def sed(ref, est, collar, frac, segment):
    labels = sorted({e['label'] for e in ref + est})
    as_list = lambda evs: dcase_util.containers.MetaDataContainer(
        [dict(filename=e['file'], event_label=e['label'], onset=e['onset'], offset=e['offset']) for e in evs])
    ev = sed_eval.sound_event.EventBasedMetrics(labels, t_collar=collar, percentage_of_length=frac)
    sg = sed_eval.sound_event.SegmentBasedMetrics(labels, time_resolution=segment)
    for f in sorted({e['file'] for e in ref + est}):
        r, e = as_list([x for x in ref if x['file'] == f]), as_list([x for x in est if x['file'] == f])
        ev.evaluate(r, e)
        sg.evaluate(r, e)
    out = {}
    for name, m in (('event', ev), ('segment', sg)):
        o = m.results_overall_metrics()['f_measure']
        cw = m.results_class_wise_metrics()
        out[name] = dict(f1=o['f_measure'], precision=o['precision'], recall=o['recall'],
                         per_class={l: cw[l]['f_measure']['f_measure'] for l in labels})
    return out


rng = np.random.default_rng(0)
cases = []
for i in range(40):
    files, labels = [f'rec{j}.wav' for j in range(int(rng.integers(1, 4)))], ['bird', 'frog', 'rain', 'dog'][:int(rng.integers(1, 5))]
    ref = events(rng, files, labels, int(rng.integers(1, 25)))
    est = jitter(rng, ref, files, labels)
    collar, frac, segment = [(0.5, 0.5, 1.0), (0.2, 0.2, 0.5), (1.0, 0.5, 2.0)][i % 3]
    cases.append(dict(reference=ref, predicted=est, collar=collar, offset_frac=frac, segment=segment, sed_eval=sed(ref, est, collar, frac, segment)))
Path(__file__).with_name('sed_eval_cases.json').write_text(json.dumps(dict(sed_eval=sed_eval.__version__, cases=cases)) + '\n')
print(f"wrote {len(cases)} cases")
