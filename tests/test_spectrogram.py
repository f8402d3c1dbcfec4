"Spectrogram transforms: parity with librosa, batch = items, inversion, devices, dtypes and bad input."
import librosa
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from fastai.data.all import DataBlock, CategoryBlock, RandomSplitter

from conftest import DEVICES
from fastaudio_lite.core import AudioTensor, get_audio_files, load_audio
from fastaudio_lite.data import AudioBlock, NameLabeller, fix_audio_length
from fastaudio_lite.spectrogram import (MFCC, AudioSpectrogram, CoordChannels, Deltas, ERBSpectrogram, MelSpectrogram,
                                        Spectrogram, SpecNormalize, ToDB, istft, spec_stats, spectrogram_preset)


@pytest.fixture(scope='module')
def batch(fsdd):
    files = sorted(fsdd.glob('*_nicolas_1*.wav'))[:6]
    return AudioTensor(torch.stack([fix_audio_length(load_audio(f, sr=16000), 16000) for f in files]), sr=16000)


def test_stft_magnitude_matches_librosa(batch):
    y = batch[0, 0].numpy()
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=480, window='hann', center=True, pad_mode='constant'))
    ours = Spectrogram(n_fft=512, hop_length=160, win_length=480, power=1., pad_mode='constant')(batch[0])
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-4 * ref.max(), rtol=1e-3)


def test_mel_slaney_matches_librosa(batch):
    y = batch[1, 0].numpy()
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=256, n_mels=40, fmin=20, fmax=8000,
                                         htk=False, norm='slaney', pad_mode='constant')
    ours = MelSpectrogram(n_mels=40, n_fft=1024, hop_length=256, f_min=20, f_max=8000, mel_scale='slaney', norm='slaney',
                          pad_mode='constant')(batch[1])
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-4 * ref.max(), rtol=1e-3)


def test_mfcc_matches_librosa(batch):
    y = batch[2, 0].numpy()
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=160, n_mels=64, htk=True, norm=None,
                                         pad_mode='constant')
    ref = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80.), n_mfcc=40)
    ours = MFCC(n_mfcc=40, n_mels=64, hop_length=160, pad_mode='constant')(batch[2])
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-3 * np.abs(ref).max())


def test_power_to_db_matches_librosa(batch):
    S = Spectrogram()(batch[3])
    ref = librosa.power_to_db(S[0].numpy(), ref=np.max, top_db=80.)
    np.testing.assert_allclose(ToDB()(S)[0].numpy(), ref, atol=1e-3)
    ref1 = librosa.amplitude_to_db(Spectrogram(power=1.)(batch[3])[0].numpy(), ref=np.max, top_db=60.)
    np.testing.assert_allclose(ToDB(top_db=60.)(Spectrogram(power=1.)(batch[3]))[0].numpy(), ref1, atol=1e-3)


TFMS = [lambda: [Spectrogram()], lambda: [Spectrogram(power=None)], lambda: [MelSpectrogram(), ToDB()],
        lambda: [MFCC()], lambda: [ERBSpectrogram(n_bands=32), ToDB(), Deltas()], lambda: [MelSpectrogram(), ToDB(), CoordChannels()]]


@pytest.mark.parametrize('make', TFMS)
def test_batch_equals_items(batch, make):
    tfms = make()
    def run(x):
        for t in tfms: x = t(x)
        return x
    whole = run(batch)
    for i in range(len(batch)):
        torch.testing.assert_close(whole[i], run(batch[i]).as_subclass(torch.Tensor), atol=1e-3, rtol=1e-4)
    assert isinstance(whole, AudioSpectrogram) and whole.sr == 16000 and whole.dtype == torch.float32


def test_complex_channels_rebuild_the_waveform(batch):
    stereo = AudioTensor(torch.cat([batch[:2], batch[2:4]], dim=1), sr=16000)  # (2, 2, 16000)
    S = Spectrogram(n_fft=400, hop_length=100, power=None)(stereo)
    assert S.shape[:2] == (2, 4) and S.channel_names == ['real 0', 'imag 0', 'real 1', 'imag 1']
    y = istft(S, length=16000)
    assert (y - stereo).abs().max() < 1e-4
    assert y.sr == 16000


def test_coord_channels_vary_along_one_axis_each(batch):
    x = CoordChannels()(ToDB()(MelSpectrogram()(batch)))
    f, t = x[:, -2], x[:, -1]
    assert torch.all(f.diff(dim=-1) == 0) and torch.all(f.diff(dim=-2) > 0)
    assert torch.all(t.diff(dim=-2) == 0) and torch.all(t.diff(dim=-1) > 0)
    assert float(f.min()) == -1 and float(f.max()) == 1


def test_float32_under_autocast(batch):
    with torch.autocast('cpu', dtype=torch.bfloat16):
        x = ToDB()(MelSpectrogram()(batch.bfloat16()))
    assert x.dtype == torch.float32


@pytest.mark.parametrize('device', DEVICES)
def test_devices(batch, device):
    x = batch.to(device)
    out = ToDB()(MelSpectrogram()(x))
    assert out.device.type == device and out.dtype == torch.float32
    torch.testing.assert_close(out.cpu().as_subclass(torch.Tensor), ToDB()(MelSpectrogram()(batch)).as_subclass(torch.Tensor), atol=1e-2, rtol=1e-3)


@pytest.mark.parametrize('device', DEVICES)
def test_mixed_precision_keeps_spectrogram_float32(batch, device):
    with torch.autocast(device, dtype=torch.float16 if device == 'cuda' else torch.bfloat16):
        out = MelSpectrogram()(batch.to(device))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


BAD = [(lambda: Spectrogram(hop_length=0), 'hop_length'), (lambda: Spectrogram(hop_length=-5), 'hop_length'),
       (lambda: Spectrogram(n_fft=0), 'n_fft'), (lambda: Spectrogram(win_length=600, n_fft=512), 'win_length'),
       (lambda: Spectrogram(window='kaiser'), 'window'), (lambda: MelSpectrogram(n_mels=400), 'n_mels'),
       (lambda: MelSpectrogram(mel_scale='bark'), 'mel_scale'), (lambda: MelSpectrogram(power=None), 'power'),
       (lambda: MFCC(n_mfcc=80, n_mels=64), 'n_mfcc'), (lambda: ToDB(top_db=-1), 'top_db'),
       (lambda: SpecNormalize(std=[0.]), 'std'), (lambda: Deltas(order=0), 'order')]


@pytest.mark.parametrize('make,name', BAD)
def test_bad_arguments(make, name):
    with pytest.raises(ValueError, match=name): make()


def test_bad_input(batch):
    with pytest.raises(ValueError, match='f_max'): MelSpectrogram(f_max=9000)(batch)
    with pytest.raises(ValueError, match='n_fft'): Spectrogram(n_fft=512, center=False)(AudioTensor(torch.zeros(1, 100), sr=16000))
    spec = MelSpectrogram()(batch)
    with pytest.raises(ValueError, match='expects a waveform'): MelSpectrogram()(spec)
    with pytest.raises(ValueError, match='already in dB'): ToDB()(ToDB()(spec))
    with pytest.raises(ValueError, match='sr=None'): Spectrogram()(AudioTensor(torch.zeros(1, 1000)))


def test_spec_normalize_from_data(fsdd):
    dblock = DataBlock(blocks=(AudioBlock(sr=8000), CategoryBlock), get_items=get_audio_files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0),
                       batch_tfms=[MelSpectrogram(n_fft=256, hop_length=80, n_mels=40), ToDB(), SpecNormalize(n_batches=4)])
    dls = dblock.dataloaders(fsdd, bs=32, num_workers=0)
    norm = dls.after_batch.fs[-1]
    assert norm.mean.shape == (1,) and -80 < float(norm.mean) < 0 and float(norm.std) > 1
    x, _ = dls.one_batch()
    assert abs(float(x.mean())) < 0.5 and 0.6 < float(x.std()) < 1.5
    mean, std = spec_stats(dls, n_batches=4)
    assert abs(float(mean - norm.mean)) < 5
    dls.show_batch(max_n=4)
    plt.close('all')


def test_presets(batch):
    for name, sr in (('speech', 16000), ('sound', 16000), ('music', 22050)):
        tfms = spectrogram_preset(name, sr=sr)
        assert isinstance(tfms[0], MelSpectrogram) and isinstance(tfms[-1], SpecNormalize)
    x = batch
    for t in spectrogram_preset('speech')[:-1]: x = t(x)
    assert x.shape[-2:] == (64, 201)   # 5 ms hop
    with pytest.raises(ValueError, match='name'): spectrogram_preset('birds')


@pytest.mark.parametrize('make', TFMS)
def test_show(batch, make):
    x = batch[:2]
    for t in make(): x = t(x)
    ax = x[0].show(title='x')
    n = x.shape[-3]
    shown = [a for a in [ax, *ax.child_axes] if a.images]   # one image per channel, side by side (insets for two or more)
    assert ax.get_title() == 'x' and len(shown) == n, (ax.get_title(), len(shown), n)
    np.testing.assert_allclose(shown[0].images[0].get_array(), x[0, 0].float().numpy(), rtol=1e-6)  # channel 0 as it is
    assert shown[0].get_xlabel() == 'time (s)'
    plt.close('all')


@pytest.mark.parametrize('make', TFMS)
def test_large_batch_chunked_on_cpu_equals_whole(batch, make):
    "Batches larger than cpu_chunk are computed chunk by chunk on the CPU: same result as clip by clip."
    big = AudioTensor(batch.repeat(12, 1, 1)[:70], sr=16000)
    x = big
    for t in make(): x = t(x)
    y = batch
    for t in make(): y = t(y)
    assert x.shape[0] == 70
    torch.testing.assert_close(x[:6].as_subclass(torch.Tensor), y.as_subclass(torch.Tensor), atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(x[66:].as_subclass(torch.Tensor), y[:4].as_subclass(torch.Tensor), atol=1e-3, rtol=1e-4)
