"""Training from annotated recordings (issue 56): Raven selection tables and Audacity label tracks train a model that
finds a planted sound at the right time in a recording it never heard; bad tables get one line."""
import numpy as np
import pytest

from annotated import recordings
from fastaudio_lite.dataloaders import AudioDataLoaders
from fastaudio_lite.errors import ArgumentError
from fastaudio_lite.inference import predict_windows


@pytest.mark.slow
def test_raven_and_audacity_boxes_train_a_model_that_finds_the_sound(tmp_path):
    truth = recordings(tmp_path / 'field', n=8)          # even recordings annotated in Raven, odd ones in Audacity
    dls = AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', tmp_path / 'field' / 'ann', window_s=0.5, hop_s=0.25,
                                            kind='sound', valid_pct=0.25, bs=16, arch='SpecCNN', pretrained=False, epochs=8)
    learn = dls.recipe.learner(dls)
    with learn.no_bar(), learn.no_logging(): dls.recipe.fit(learn)
    new = recordings(tmp_path / 'new', n=1, seed=7)        # a recording no split held
    (f, boxes), = new.items()
    starts, ends, probs = (np.concatenate(v) for v in zip(*predict_windows(learn, f, hop_s=0.125)))
    beep = probs[:, list(dls.vocab).index('beep')]
    covered = np.array([any(min(e, off) - max(s, on) >= 0.2 for on, off in boxes) for s, e in zip(starts, ends)])
    assert beep[covered].mean() > 0.7 and beep[~covered].mean() < 0.3, (beep[covered].mean(), beep[~covered].mean())
    for on, off in boxes:   # each beep: the best window near it overlaps it
        near = np.abs((starts + ends) / 2 - (on + off) / 2) < 0.3   # beeps may be 0.6 s apart
        best = np.argmax(np.where(near, beep, -1))
        assert beep[best] > 0.5 and starts[best] < off and ends[best] > on, (on, off, starts[best], beep[best])


def test_bad_tables_are_named_in_one_line(tmp_path):
    recordings(tmp_path / 'field', n=2)
    ann = tmp_path / 'field' / 'ann'
    (ann / 'rec1.txt').write_text('3.0\t2.5\tbeep\n')
    with pytest.raises(ArgumentError, match=r'rec1.txt: line 1: the offset 2.5 s is before the onset 3 s'):
        AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', ann)
    (ann / 'rec1.txt').write_text('7.5\t9.0\tbeep\n')
    with pytest.raises(ArgumentError, match=r'rec1.txt: the box beep 7.5-9 s ends past the end of .*rec1.wav \(8 s\)'):
        AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', ann)
    (ann / 'rec1.txt').unlink()
    with pytest.raises(ArgumentError, match=r'rec1.wav: no table annotates it'):
        AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', ann)
    (ann / 'rec1.txt').write_text('onset;offset;label\n')
    with pytest.raises(ArgumentError, match=r'rec1.txt: line 1: not a Raven table'):
        AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', ann)


def test_overlapping_boxes_of_two_labels_make_the_task_multi_label(tmp_path):
    "Two labels on one window: every window's labels are a list (background: none), and fastai's multi-label block is chosen."
    recordings(tmp_path / 'field', n=4)
    for t in (tmp_path / 'field' / 'ann').iterdir():   # a second label overlapping each recording's first beep
        if t.suffix == '.txt' and 'Table' not in t.name:
            on, off, _ = t.read_text().splitlines()[0].split('\t')
            t.write_text(t.read_text() + f"{on}\t{float(off) + 0.5:.3f}\tchorus\n")
    dls = AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', tmp_path / 'field' / 'ann', window_s=0.5, kind='sound', bs=8, valid_pct=0.5)
    assert list(dls.vocab) == ['beep', 'chorus'] and dls.annotations['background'] is None
    ys = [dls.train_ds[i][1] for i in range(len(dls.train_ds))] + [dls.valid_ds[i][1] for i in range(len(dls.valid_ds))]
    assert any(y.sum() == 2 for y in ys) and any(y.sum() == 0 for y in ys)   # both labels on a window; background windows have none


@pytest.mark.slow
def test_the_command_trains_from_annotations(tmp_path):
    from test_cli import cli
    recordings(tmp_path / 'field', n=4)
    r = cli('train', tmp_path / 'field' / 'rec', '--annotations', tmp_path / 'field' / 'ann', '--window', 0.5, '--kind', 'sound',
            '--frame', 0.05, '--arch', 'SEDCNN', '--no-pretrained', '--epochs', 1, '--valid-pct', 0.25, '--out', tmp_path / 'out')
    assert r.returncode == 0 and (tmp_path / 'out' / 'metrics.json').exists(), r.stderr[-2000:]
    assert 'annotated windows:' in r.stdout and 'labels per frame of 0.05 s' in r.stdout, r.stdout
    r = cli('train', tmp_path / 'field' / 'rec', '--annotations', tmp_path / 'field' / 'ann', '--label', r'(\d)', '--out', tmp_path / 'o2')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and '--annotations gives the labels' in r.stderr, r.stderr


@pytest.mark.slow
def test_a_model_of_frames_places_onsets_and_offsets_and_exports(tmp_path):
    """Trained on the boxes' frames (`frame_s`), SEDCNN says when each planted beep starts and ends within 0.1 s in a
    recording it never heard; its ONNX file gives the same frame scores within 1e-4, its safe file the same ones, and
    `predict --events` on each finds the same beeps."""
    import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
    from fastaudio_lite.events import read_events
    from fastaudio_lite.inference import predict_events
    from fastaudio_lite.runtime import OnnxModel
    from fastaudio_lite.safe import load_audio_learner
    from test_cli import cli
    recordings(tmp_path / 'field', n=8)
    dls = AudioDataLoaders.from_annotations(tmp_path / 'field' / 'rec', tmp_path / 'field' / 'ann', window_s=1.0, hop_s=0.5, frame_s=0.05,
                                            kind='sound', valid_pct=0.25, bs=16, arch='SEDCNN', pretrained=False, epochs=10)
    assert dls.one_batch()[1].shape == (16, 20, 1) and 'shift' not in [type(t).__name__.lower() for t in dls.train.after_batch.fs]
    learn = dls.recipe.learner(dls)
    with learn.no_bar(), learn.no_logging(): dls.recipe.fit(learn)
    (f, boxes), = recordings(tmp_path / 'new', n=1, seed=7).items()
    frames = list(predict_windows(learn, f, hop_s=0.5))
    starts, ends, probs = (np.concatenate(v) for v in zip(*frames))
    assert np.allclose(np.diff(starts), 0.05) and len(starts) == 160 and probs.shape == (160, 1)   # 8 s in frames of 50 ms
    evs = list(predict_events(learn, f, hop_s=0.5))
    assert len(evs) == len(boxes), (evs, boxes)
    for e, (on, off) in zip(evs, boxes):
        assert abs(e.onset - on) <= 0.1 and abs(e.offset - off) <= 0.1, (e, on, off)
    learn.export_onnx(tmp_path / 'm.onnx')
    onnx = np.concatenate([p for _, _, p in OnnxModel(tmp_path / 'm.onnx').predict_windows(f, hop_s=0.5)])
    assert np.abs(onnx - probs).max() < 1e-4
    learn.export_safe(tmp_path / 'm.safetensors')
    safe = np.concatenate([np.asarray(p) for _, _, p in predict_windows(load_audio_learner(tmp_path / 'm.safetensors'), f, hop_s=0.5)])
    assert np.abs(safe - probs).max() < 1e-5
    for m in ('m.onnx', 'm.safetensors'):
        r = cli('predict', tmp_path / m, f, '--events', '--hop', 0.5, '--csv', tmp_path / f'{m}.csv')
        assert r.returncode == 0, r.stderr[-2000:]
        got = read_events(tmp_path / f'{m}.csv')
        assert [(e.label, round(e.onset, 2), round(e.offset, 2)) for e in got] == [(e.label, round(e.onset, 2), round(e.offset, 2)) for e in evs], (m, got, evs)


def test_frame_settings_get_one_line(tmp_path):
    recordings(tmp_path / 'field', n=2)
    args = (tmp_path / 'field' / 'rec', tmp_path / 'field' / 'ann')
    with pytest.raises(ArgumentError, match=r'frame_s must divide the window \(1 s\) into a whole number of frames, got 0.3'):
        AudioDataLoaders.from_annotations(*args, window_s=1.0, frame_s=0.3)
    with pytest.raises(ArgumentError, match=r"augment: 'shift' moves the sounds but not their frame targets"):
        AudioDataLoaders.from_annotations(*args, window_s=1.0, frame_s=0.1, augment=['noise', 'shift'], valid_pct=0.5, bs=4)
    dls = AudioDataLoaders.from_annotations(*args, window_s=1.0, frame_s=0.1, valid_pct=0.5, bs=4, kind='sound')
    from fastaudio_lite.learner import audio_learner
    with pytest.raises(ArgumentError, match=r'SpecCNN: a prediction per frame needs a body whose feature map keeps time'):
        audio_learner(dls, 'SpecCNN', pretrained=False)


def test_one_table_of_boxes_gives_each_recording_its_site_or_fold(tmp_path):
    "A table's site column holds whole sites out; its fold column chooses the held-out fold; a recording in two sites is one line."
    truth = recordings(tmp_path / 'field', n=6)
    rows = ['file,onset,offset,label,site,fold'] + [f"{f.name},{on},{off},beep,{'north' if i < 3 else 'south'},{i % 3 + 1}"
                                                    for i, (f, boxes) in enumerate(sorted(truth.items())) for on, off in boxes]
    (tmp_path / 'boxes.csv').write_text('\n'.join(rows) + '\n')
    args = (tmp_path / 'field' / 'rec', tmp_path / 'boxes.csv')
    dls = AudioDataLoaders.from_annotations(*args, group_col='site', valid_pct=0.3, kind='sound', bs=4)
    sites = lambda ds: {'north' if int(s.file[-5]) < 3 else 'south' for s in ds.items}
    assert len(sites(dls.valid_ds)) == 1 and sites(dls.train_ds) != sites(dls.valid_ds)
    dls = AudioDataLoaders.from_annotations(*args, fold_col='fold', valid_fold=2, kind='sound', bs=4)
    assert {s.file[-8:] for s in dls.valid_ds.items} == {'rec1.wav', 'rec4.wav'}
    rows.append(f"rec0.wav,7.0,7.2,beep,south,1")
    (tmp_path / 'boxes.csv').write_text('\n'.join(rows) + '\n')
    with pytest.raises(ArgumentError, match=r"boxes.csv: line \d+: .*rec0.wav is in site 'north' and 'south'"):
        AudioDataLoaders.from_annotations(*args, group_col='site', valid_pct=0.5, kind='sound', bs=4)
