"""Events from long recordings: a synthetic soundscape with tones at known times gives its events within the collar,
through the learner and the ONNX file alike and from the command; the tables round-trip; the scores agree with
sed_eval; an hour-long file streams through in bounded memory."""
import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, SR, TONES, noise, tone, tone_learner
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
import fastaudio_lite.safe  # noqa: F401 (learn.export_safe)
from fastaudio_lite.events import Event, evaluate_events, event_formats, find_events, psds, read_events, write_events
from fastaudio_lite.inference import predict_events
from fastaudio_lite.runtime import predict_windows_of

# the soundscape's events: (label, onset, offset)
TRUTH = [('low', 2.0, 3.0), ('high', 5.0, 5.6), ('low', 8.0, 10.5), ('high', 13.0, 14.0), ('low', 16.3, 16.9)]


def cli(*args):
    return subprocess.run([sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())', *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    "The tones model of conftest, exported as safetensors and ONNX."
    d = tmp_path_factory.mktemp('events')
    learn = tone_learner(d)
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')
    return learn, d


@pytest.fixture(scope='module')
def soundscape(model):
    "20 s of noise with the tones of TRUTH, and its Raven table of annotations."
    _, d = model
    rng = np.random.default_rng(1)
    x = noise(20 * SR, rng)
    for label, on, off in TRUTH:
        s, e = int(on * SR), int(off * SR)
        x[s:e] += tone(TONES[label], e - s, rng)
    sf.write(d / 'scape.wav', x.astype(np.float32), SR)
    write_events([Event('scape.wav', *t) for t in TRUTH], d / 'scape.Table.1.selections.txt', 'raven', SR / 2)
    return d / 'scape.wav'


def test_known_events_are_found_within_the_collar(model, soundscape):
    learn, d = model
    evs = list(predict_events(learn, soundscape, hop_s=0.1, background='noise'))
    assert [e.label for e in evs] == [t[0] for t in TRUTH], evs
    for e, (_, on, off) in zip(evs, TRUTH):
        assert abs(e.onset - on) <= 0.3 and abs(e.offset - off) <= 0.3, (e, on, off)   # the collar is 0.5 s
        assert 0.5 < e.mean <= e.peak <= 1
    m = evaluate_events(evs, read_events(d / 'scape.Table.1.selections.txt'))
    # the edges spill a little into the next second (windows that hear part of a tone): every second is found, a few extra
    assert m['event']['f1'] == 1.0 and m['segment']['recall'] == 1.0 and m['segment']['precision'] >= 0.5, m


def test_onnx_gives_the_same_events(model, soundscape):
    "The torch-free predictor finds the same events, at the same times, with scores within 1e-4."
    from fastaudio_lite.runtime import OnnxModel
    learn, d = model
    a = list(predict_events(learn, soundscape, hop_s=0.1, background='noise'))
    b = list(OnnxModel(d / 'model.onnx').predict_events(soundscape, hop_s=0.1, background='noise'))
    assert [(e.label, e.onset, e.offset) for e in a] == [(e.label, e.onset, e.offset) for e in b]
    assert np.allclose([e.peak for e in a], [e.peak for e in b], atol=1e-4)


def test_window_and_settings(model, soundscape):
    "A shorter window than the clip is centred in it; min_dur and a background of every class but one change what is reported."
    learn, _ = model
    short = list(predict_events(learn, soundscape, hop_s=0.1, window_s=0.3, background='noise'))
    assert [e.label for e in short] == [t[0] for t in TRUTH]
    assert [e.label for e in predict_events(learn, soundscape, hop_s=0.1, background='noise', min_dur=1.3)] == ['low', 'low']
    assert {e.label for e in predict_events(learn, soundscape, hop_s=0.1, background=['noise', 'high'])} == {'low'}
    with pytest.raises(ValueError, match='window_s must be a positive number of seconds'): list(predict_events(learn, soundscape, window_s=0))


@pytest.mark.slow
def test_the_command(model, soundscape, tmp_path):
    "predict --events in each format (from safetensors, then ONNX), then evaluate-events against the annotations: F1 1."
    _, d = model
    ref = d / 'scape.Table.1.selections.txt'
    for fmt, m in zip(event_formats, ('model.safetensors', 'model.onnx', 'model.onnx')):
        (tmp_path / fmt).mkdir()
        out = tmp_path / fmt / 'scape.txt'   # an Audacity track is known by its name
        r = cli('predict', d / m, soundscape, '--events', '--hop', 0.1, '--background', 'noise', '--format', fmt, '--csv', out)
        assert r.returncode == 0, r.stderr[-2000:]
        assert len(r.stdout.splitlines()) == len(TRUTH)
        evs = read_events(out)
        assert [e.label for e in evs] == [t[0] for t in TRUTH]
        r = cli('evaluate-events', out, ref, '--json', tmp_path / 'm.json')
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads((tmp_path / 'm.json').read_text())['event']['f1'] == 1.0
        assert 'all (micro)' in r.stdout
    r = cli('predict', d / 'model.onnx', soundscape, '--events', '--hop', 0.1, '--background', 'noise', '--format', 'raven')   # to stdout
    assert r.returncode == 0 and r.stdout.startswith('Selection\tView\tChannel\tBegin Time (s)') and len(r.stdout.splitlines()) == 1 + len(TRUTH)
    # the window scores, every label's, and the threshold-independent scores from them
    r = cli('predict', d / 'model.onnx', soundscape, '--windows', '--hop', 0.1, '--csv', tmp_path / 'scores.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    r = cli('evaluate-events', tmp_path / 'scores.csv', ref, '--background', 'noise', '--json', tmp_path / 's.json')
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / 's.json').read_text())
    from fastaudio_lite.events import read_window_scores, window_frames
    labels, w = read_window_scores(tmp_path / 'scores.csv')
    keep = [i for i, l in enumerate(labels) if l != 'noise']
    want = psds({f: (window_frames(s, e), p[:, keep]) for f, (s, e, p) in w.items()}, read_events(ref), {f: float(e[-1]) for f, (s, e, p) in w.items()},
                [labels[i] for i in keep], alpha_st=1.)
    assert m['psds']['value'] == pytest.approx(want.value, abs=1e-9) and m['psds']['value'] > 0.5, m['psds']
    assert len(m['f1_over_thresholds']) == 19 and max(t['f1'] for t in m['f1_over_thresholds']) == 1.0
    assert m['event']['f1'] == 1.0 and 'PSDS' in r.stdout   # the events at the default settings, from the same scores


@pytest.mark.parametrize('args,msg', [
    (['--events', '--threshold', 'owl=0.3'], "--threshold: 'owl' is not one of the model's labels"),
    (['--events', '--threshold', 'x'], "--threshold: 'x' is not a number or LABEL=NUMBER"),
    (['--events', '--background', 'owl_call'], "--background: 'owl_call' is not one of the model's labels"),   # the label as it is
    (['--events', '--threshold', '1.5'], '--threshold must be > 0 and <= 1'),
    (['--events', '--median', '2'], '--median must be an odd number of windows'),
    (['--events', '--background', 'low,high,noise'], '--background: every label is background'),
    (['--events', '--hop', '0'], '--hop must be a number of seconds > 0'),
    (['--threshold', '0.3'], '--threshold is for --events'),
    (['--hop', '0.3'], '--window and --hop are for --windows or --events'),
    (['TWO', '--events', '--format', 'audacity'], '--format audacity: an Audacity label track holds one recording'),
])
def test_bad_settings_are_one_line(model, soundscape, args, msg):
    _, d = model
    args = [soundscape if a == 'TWO' else a for a in args]
    r = cli('predict', d / 'model.onnx', soundscape, *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, r.stderr


def test_windows_or_events():
    r = cli('predict', 'm.onnx', 'x.wav', '--events', '--windows')   # argparse's usage, then its one error line
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].endswith('argument --windows: not allowed with argument --events')


def test_evaluate_events_refusals(tmp_path):
    write_events([Event('a.wav', 'dog', 1, 2)], tmp_path / 'p.csv')
    write_events([Event('b.wav', 'dog', 1, 2)], tmp_path / 'r.csv')
    r = cli('evaluate-events', tmp_path / 'p.csv', tmp_path / 'r.csv')
    assert r.returncode == 2 and 'no recording is in both tables' in r.stderr
    (tmp_path / 'bad.txt').write_text('1\tx\tdog\n')
    r = cli('evaluate-events', tmp_path / 'p.csv', tmp_path / 'bad.txt')
    assert r.returncode == 2 and 'bad.txt: line 1: the offset must be a number of seconds' in r.stderr, r.stderr
    r = cli('evaluate-events', tmp_path / 'p.csv', tmp_path / 'nothing')
    assert r.returncode == 2 and 'no such file or folder' in r.stderr


def test_tables_round_trip(tmp_path):
    "Every format reads back as written, with labels that hold tabs, commas, quotes or a formula's first character."
    rng = np.random.default_rng(0)
    labels = ['bird', 'frog, common', 'say "hi"', '=cmd', 'tab\there', 'ünï']
    evs = sorted(Event('rec.wav', str(rng.choice(labels)), round(float(o), 3), round(float(o + d), 3), round(float(p), 6), round(float(p) / 2, 6))
                 for o, d, p in zip(rng.uniform(0, 100, 30), rng.uniform(0, 5, 30), rng.uniform(0.5, 1, 30)))
    for fmt in event_formats:
        back = read_events(write_events(evs, tmp_path / f'rec.{fmt}.txt', fmt, 11025), file='rec.wav')
        want = [(e.label.replace('\t', ' ') if fmt != 'csv' else e.label, e.onset, e.offset) for e in evs]
        assert [(e.label, e.onset, e.offset) for e in back] == want, fmt
        if fmt != 'audacity': assert [(e.peak, e.mean) for e in back] == [(e.peak, e.mean) for e in evs]


def test_scores_agree_with_sed_eval():
    "40 random cases (1-3 files, 1-4 classes, three collar and segment settings) scored by sed_eval 0.2.1 (tests/data/make_sed_eval_cases.py)."
    cases = json.loads((ROOT / 'tests' / 'data' / 'sed_eval_cases.json').read_text())['cases']
    assert len(cases) == 40
    ev = lambda L: [Event(e['file'], e['label'], e['onset'], e['offset']) for e in L]
    for c in cases:
        m = evaluate_events(ev(c['predicted']), ev(c['reference']), c['collar'], c['offset_frac'], c['segment'])
        for kind in ('event', 'segment'):
            want = c['sed_eval'][kind]
            for k in ('f1', 'precision', 'recall'):
                assert m[kind][k] == pytest.approx(want[k] if want[k] == want[k] else 0, abs=1e-9), (kind, k)
            for label, f in want['per_class'].items():
                assert m[kind]['per_class'][label]['f1'] == pytest.approx(f if f == f else 0, abs=1e-9), (kind, label)


def test_psds_agrees_with_sed_scores_eval():
    "30 random cases (1-3 files, 1-3 classes, ties in half of them; PSDS1's, PSDS2's and a third criteria) scored by sed_scores_eval 0.0.4 (tests/data/make_psds_cases.py)."
    cases = json.loads((ROOT / 'tests' / 'data' / 'psds_cases.json').read_text())['cases']
    assert len(cases) == 30 and sum(r['value'] > 0 for c in cases for r in c['psds']) > 40   # real areas, not zeros
    for c in cases:
        scores = {f: (np.array(v['timestamps']), np.array(v['scores'])) for f, v in c['files'].items()}
        ref = [Event(f, l, on, off) for f, evs in c['ground_truth'].items() for on, off, l in evs]
        for r in c['psds']:
            s = r['settings']
            got = psds(scores, ref, c['durations'], c['classes'], s['dtc_threshold'], s['gtc_threshold'], s.get('cttc_threshold'),
                       s.get('alpha_ct', 0.), s.get('alpha_st', 0.), s.get('max_efpr', 100.))
            assert got.value == pytest.approx(r['value'], abs=1e-6), (c['classes'], s)
            for label, v in r['per_class'].items(): assert got.per_class[label] == pytest.approx(v, abs=1e-6), (label, s)


def test_merging_min_duration_and_background():
    "The rules on stand-in scores: a gap under merge_gap joins, a short event is dropped, background is never reported."
    starts = np.arange(40) * 0.25
    c = starts + 0.5
    on = ((c >= 2) & (c < 4)) | ((c >= 4.5) & (c < 6)) | ((c >= 8) & (c < 8.3))
    probs = np.stack([np.where(on, 0.1, 0.9), np.where(on, 0.9, 0.1)], 1)
    run = lambda **kw: [(e.label, e.onset, e.offset) for e in find_events([(starts, starts + 1, probs)], ['bg', 'call'], median=1, **kw)]
    assert run(background='bg') == [('call', 1.875, 3.875), ('call', 4.375, 5.875), ('call', 7.875, 8.375)]
    assert run(background='bg', merge_gap=0.5) == [('call', 1.875, 5.875), ('call', 7.875, 8.375)]
    assert run(background='bg', merge_gap=0.5, min_dur=0.6) == [('call', 1.875, 5.875)]
    assert [e[0] for e in run()] == ['bg', 'call', 'bg', 'call', 'bg', 'call', 'bg']


def test_an_hour_streams_in_bounded_memory(tmp_path):
    "An hour at 8 kHz (115 MB as float32) through windows and events: the peak of Python's allocations stays under 4 MB."
    f = tmp_path / 'hour.wav'
    rng = np.random.default_rng(0)
    with sf.SoundFile(f, 'w', SR, 1, 'PCM_16') as out:
        for minute in range(60):
            x = noise(60 * SR, rng, 0.01)
            x[30 * SR:31 * SR] += 0.5   # one event a minute, at :30
            out.write(x.astype(np.float32))
    loud = lambda wins: np.array([[1 - min(abs(w.mean()) * 2, 1), min(abs(w.mean()) * 2, 1)] for w in wins])
    tracemalloc.start()
    try:
        evs = list(find_events(predict_windows_of(loud, f, SR, SR // 2, SR // 4, bs=64), ['quiet', 'offset'], 'hour.wav', background='quiet'))
        peak = tracemalloc.get_traced_memory()[1]
    finally: tracemalloc.stop()
    assert len(evs) == 60 and all(abs(e.onset - (60 * i + 30)) < 0.5 for i, e in enumerate(evs)), evs[:3]
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MB"
