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
            '--arch', 'SpecCNN', '--no-pretrained', '--epochs', 1, '--valid-pct', 0.25, '--out', tmp_path / 'out')
    assert r.returncode == 0 and (tmp_path / 'out' / 'metrics.json').exists(), r.stderr[-2000:]
    assert 'annotated windows:' in r.stdout
    r = cli('train', tmp_path / 'field' / 'rec', '--annotations', tmp_path / 'field' / 'ann', '--label', r'(\d)', '--out', tmp_path / 'o2')
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and '--annotations gives the labels' in r.stderr, r.stderr
