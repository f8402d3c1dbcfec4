"Augmentations: p, bounds, exact SNR, per-example draws, reproducibility, multichannel, no in-place change, order."
import numpy as np
import pytest
import torch
from fastai.data.all import DataBlock, CategoryBlock, RandomSplitter, set_seed
from fastai.callback.mixup import MixUp, CutMix
from fastai.metrics import accuracy

from fastaudio_lite.augment import AddNoise, Gain, SpecAugment, TimeShift, noise_colors
from fastaudio_lite.core import AudioTensor, load_audio
from fastaudio_lite.data import AudioBlock, NameLabeller, fix_audio_length
from fastaudio_lite.nets import SpecCNN
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.spectrogram import AudioSpectrogram, MelSpectrogram, ToDB


@pytest.fixture(scope='module')
def wave(fsdd):
    files = sorted(fsdd.glob('*_lucas_1*.wav'))[:16]
    return AudioTensor(torch.stack([fix_audio_length(load_audio(f, sr=16000), 16000) for f in files]), sr=16000)


@pytest.fixture(scope='module')
def spec(wave): return ToDB()(MelSpectrogram()(wave))


WAVE_AUGS = [lambda p: AddNoise(p=p), lambda p: AddNoise(color='pink', p=p), lambda p: TimeShift(p=p),
             lambda p: TimeShift(mode='zeros', p=p), lambda p: Gain(p=p)]


def run(aug, x): return aug(x, split_idx=0)


@pytest.mark.parametrize('make', WAVE_AUGS)
def test_wave_p0_identity_p1_changes_all(wave, make):
    before = wave.clone()
    assert torch.equal(run(make(0.), wave), wave)
    set_seed(0)
    aug = make(1.)
    out = run(aug, wave)
    changed = (out != wave).flatten(1).any(1)
    # a drawn shift of 0 samples (1 draw in 3201 at 0.1 s, 16 kHz) would rightly leave its clip unchanged: not this seed's
    if hasattr(aug, 'shifts'): assert (aug.shifts != 0).all()
    assert changed.all()
    assert torch.equal(wave, before)
    assert type(out) is AudioTensor and out.sr == 16000 and out.dtype == wave.dtype and out.shape == wave.shape


@pytest.mark.parametrize('make', WAVE_AUGS)
def test_validation_untouched(wave, make):
    assert torch.equal(make(1.)(wave, split_idx=1), wave)


def test_p_is_per_example(wave):
    set_seed(1)
    out = run(Gain(p=0.5), wave)
    changed = (out != wave).flatten(1).any(1)
    assert 0 < int(changed.sum()) < len(wave)


@pytest.mark.parametrize('color', list(noise_colors))
@pytest.mark.parametrize('snr', [0., 12., 30.])
def test_snr_exact(wave, color, snr):
    out = run(AddNoise(snr_db=(snr, snr), color=color, p=1.), wave)
    noise = out - wave
    measured = 10 * torch.log10(wave.pow(2).mean((1, 2)) / noise.pow(2).mean((1, 2)))
    assert (measured - snr).abs().max() < 0.5


def test_draws_differ_and_reproduce(wave):
    aug = AddNoise(snr_db=(5., 35.), p=1.)
    set_seed(3)
    a = run(aug, wave)
    snrs = aug.snr.clone()
    set_seed(3)
    b = run(aug, wave)
    assert torch.equal(a, b) and len(snrs.unique()) == len(wave)
    assert snrs.min() >= 5 and snrs.max() <= 35


def test_shift_and_gain_bounds(wave):
    ts = TimeShift(max_shift_s=0.05, p=1.)
    set_seed(0)
    out = run(ts, wave)
    assert ts.shifts.abs().max() <= 800 and len(ts.shifts.unique()) > 4
    for i, s in enumerate(ts.shifts.tolist()): assert torch.equal(out[i], wave[i].roll(s, -1))
    g = Gain(gain_db=(-3., 3.), p=1.)
    out = run(g, wave)
    ratio = (out.abs().flatten(1).max(1).values / wave.abs().flatten(1).max(1).values)
    assert (ratio >= 10 ** (-3 / 20) - 1e-5).all() and (ratio <= 10 ** (3 / 20) + 1e-5).all()


def test_multichannel(wave):
    stereo = AudioTensor(torch.cat([wave[:8], wave[8:]], dim=1), sr=16000)
    for make in WAVE_AUGS:
        out = run(make(1.), stereo)
        assert out.shape == stereo.shape and out.sr == 16000
    out = run(SpecAugment(p=1.), MelSpectrogram()(stereo))
    assert out.shape[1] == 2


def test_specaugment_bounds_and_fill(spec):
    before = spec.clone()
    sa = SpecAugment(freq_masks=2, max_freq_bins=5, time_masks=3, max_time_frames=7, fill='zero', p=1.)
    set_seed(0)
    out = run(sa, spec)
    assert torch.equal(spec, before)
    assert type(out) is AudioSpectrogram and out.meta == spec.meta
    assert (sa.fmask.sum(1) <= 2 * 5).all() and (sa.tmask.sum(1) <= 3 * 7).all()
    masked = sa.fmask[:, None, :, None] | sa.tmask[:, None, None, :]
    assert torch.all(out[masked.expand_as(out)] == 0)
    assert torch.equal(out[~masked.expand_as(out)], spec[~masked.expand_as(spec)])
    assert torch.equal(run(SpecAugment(p=0.), spec), spec)
    assert (run(SpecAugment(p=1.), spec) != spec).flatten(1).any(1).all()


BAD = [(lambda: AddNoise(snr_db=(20, 10)), 'snr_db'), (lambda: AddNoise(color='green'), 'color'),
       (lambda: AddNoise(p=1.5), 'p'), (lambda: TimeShift(max_shift_s=-1), 'max_shift_s'),
       (lambda: TimeShift(mode='wrap'), 'mode'), (lambda: Gain(gain_db=(6, -6)), 'gain_db'), (lambda: Gain(p=-0.1), 'p'),
       (lambda: SpecAugment(max_time_frames=-2), 'max_time_frames'), (lambda: SpecAugment(freq_masks=-1), 'freq_masks'),
       (lambda: SpecAugment(fill='median'), 'fill')]


@pytest.mark.parametrize('make,name', BAD)
def test_bad_arguments(make, name):
    with pytest.raises(ValueError, match=name): make()


def test_wrong_kind_of_input(wave, spec):
    with pytest.raises(ValueError, match='waveform'): run(AddNoise(), spec)
    with pytest.raises(ValueError, match='AudioSpectrogram'): run(SpecAugment(), wave)


@pytest.fixture(scope='module')
def dls(fsdd_small):
    # listed out of order on purpose: `order` puts the waveform augmentations first and SpecAugment after the spectrogram
    dblock = DataBlock(blocks=(AudioBlock(sr=8000), CategoryBlock), get_items=lambda _: fsdd_small[::4],
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0),
                       batch_tfms=[SpecAugment(p=1.), ToDB(), MelSpectrogram(n_fft=256, hop_length=80, n_mels=32),
                                   TimeShift(p=1.), AddNoise(p=1.), Gain(p=1.)])
    return dblock.dataloaders(fsdd_small[0].parent, bs=16, num_workers=0)


def test_order_whatever_the_listing(dls):
    names = [type(t).__name__ for t in dls.after_batch.fs]
    assert names.index('AddNoise') < names.index('MelSpectrogram') < names.index('ToDB') < names.index('SpecAugment')
    x, _ = dls.one_batch()
    assert isinstance(x, AudioSpectrogram) and x.db


@pytest.mark.parametrize('cb', [MixUp, CutMix])
def test_mixup_cutmix_train(dls, cb):
    mix = cb()
    learn = audio_learner(dls, SpecCNN, metrics=accuracy, cbs=mix)
    learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[0][0])
    # the last training batch was mixed: shares drawn per example, second labels the batch's own, shuffled
    lam = mix.lam.flatten()
    assert ((lam >= 0) & (lam <= 1)).all() and len(mix.yb1[0]) == dls.bs and (lam < 1).any(), lam
