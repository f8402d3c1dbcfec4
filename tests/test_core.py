"Decoding, resampling, bad files and the data pipeline (issue: audio in)."
import pickle

import numpy as np
import pytest
import soundfile as sf
import torch
from fastai.data.all import DataBlock, CategoryBlock, RandomSplitter, set_seed

from fastaudio_lite.errors import AudioError
from fastaudio_lite.core import AudioTensor, get_audio_files, load_audio, verify_audio
from fastaudio_lite.data import AudioBlock, FixLength, NameLabeller, fix_audio_length


def dominant_freq(x, sr):
    spec = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64)))
    return np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()]


@pytest.mark.slow
def test_all_fsdd_files_load(fsdd):
    files = get_audio_files(fsdd)
    assert len(files) == 400
    for f in files:
        x = load_audio(f)
        assert x.sr == 8000 and x.nchannels == 1 and x.nsamples > 0 and x.dtype == torch.float32
    assert len(verify_audio(files, n_workers=2)) == 0


def test_8k_to_16k_doubles_length(fsdd):
    f = fsdd / '0_george_0.wav'
    assert load_audio(f, sr=16000).nsamples == 2 * load_audio(f).nsamples


def test_tone_44k_stereo_24bit_to_16k_mono(tmp_path):
    sr, n = 44100, 44100
    t = np.arange(n) / sr
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / 'tone.wav', np.stack([tone, tone], 1), sr, subtype='PCM_24')
    x = load_audio(tmp_path / 'tone.wav', sr=16000, mono=True)
    assert (x.sr, x.nchannels, x.nsamples) == (16000, 1, 16000)
    assert abs(dominant_freq(x[0].numpy(), 16000) - 440) <= 1.0
    assert float(x.abs().max()) == pytest.approx(0.5, abs=0.01)


FORMATS = [('wav', 'PCM_U8', 1 / 128), ('wav', 'PCM_16', 1e-4), ('wav', 'PCM_24', 1e-6), ('wav', 'PCM_32', 1e-6),
           ('wav', 'FLOAT', 1e-7), ('wav', 'DOUBLE', 1e-7), ('flac', 'PCM_16', 1e-4), ('ogg', 'VORBIS', None),
           ('mp3', 'MPEG_LAYER_III', None)]


@pytest.mark.parametrize('ext,subtype,atol', FORMATS)
def test_formats_round_trip(tmp_path, ext, subtype, atol):
    sr = 16000
    t = np.arange(sr) / sr
    y = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float64)
    stereo = np.stack([y, 0.5 * y], 1)
    fn = tmp_path / f'x.{ext}'
    sf.write(fn, stereo, sr, subtype=subtype)
    x = load_audio(fn)
    assert x.sr == sr and x.nchannels == 2 and x.dtype == torch.float32
    if atol is not None:
        assert x.nsamples == sr
        np.testing.assert_allclose(x.numpy().T, stereo, atol=atol)
    else:  # lossy: the codec may pad; the tone must survive
        assert abs(x.nsamples - sr) < 0.1 * sr
        assert abs(dominant_freq(x[0].numpy(), sr) - 440) <= 2
    assert float(x.abs().max()) <= 1.01


def test_offset_duration(tmp_path):
    sr = 8000
    y = np.linspace(-1, 1, 2 * sr).astype(np.float32)
    sf.write(tmp_path / 'r.flac', y, sr, subtype='PCM_24')
    x = load_audio(tmp_path / 'r.flac', offset=0.5, duration=0.25)
    np.testing.assert_allclose(x[0].numpy(), y[4000:6000], atol=1e-5)


def bad_files(d):
    "The six kinds of bad file of the issue, each with the reason its error must give."
    sr = 8000
    (d / 'empty.wav').write_bytes(b'')
    (d / 'random.wav').write_bytes(np.random.default_rng(0).bytes(4000))
    (d / 'text.wav').write_text('RIFF? no, just a text file named .wav\n' * 20)
    sf.write(d / 'good.wav', np.random.default_rng(1).uniform(-.5, .5, sr).astype(np.float32), sr, subtype='PCM_16')
    data = (d / 'good.wav').read_bytes()
    (d / 'truncated.wav').write_bytes(data[:len(data) // 2])
    nan = np.zeros(sr, dtype=np.float32)
    nan[100] = np.nan
    sf.write(d / 'nan.wav', nan, sr, subtype='FLOAT')
    inf = np.zeros(sr, dtype=np.float32)
    inf[5] = np.inf
    sf.write(d / 'inf.wav', inf, sr, subtype='FLOAT')
    sf.write(d / 'nosamples.wav', np.zeros((0,), dtype=np.float32), sr, subtype='PCM_16')
    return {'empty.wav': 'empty', 'random.wav': 'cannot decode', 'text.wav': 'cannot decode', 'truncated.wav': 'truncated',
            'nan.wav': 'NaN or infinite', 'inf.wav': 'NaN or infinite', 'nosamples.wav': 'no samples'}


def test_bad_files_raise_naming_file(tmp_path):
    for name, reason in bad_files(tmp_path).items():
        with pytest.raises(AudioError, match=reason) as e:
            load_audio(tmp_path / name)
        assert name in str(e.value)
    assert load_audio(tmp_path / 'good.wav').nsamples == 8000


def test_verify_audio_lists_exactly_the_bad(tmp_path):
    bad = bad_files(tmp_path)
    files = sorted(tmp_path.iterdir())
    assert sorted(f.name for f in verify_audio(files, n_workers=2)) == sorted(bad)


def test_dataloader_reports_the_broken_file(tmp_path, fsdd):
    (tmp_path / '3').mkdir()
    for f in sorted(fsdd.glob('3_*.wav'))[:6]: (tmp_path / '3' / f.name).write_bytes(f.read_bytes())
    (tmp_path / '3' / 'broken.wav').write_bytes(b'not audio at all')
    dblock = DataBlock(blocks=(AudioBlock(sr=8000), CategoryBlock), get_items=get_audio_files,
                       get_y=lambda f: f.parent.name, splitter=RandomSplitter(0.))
    for workers in (0, 2):
        with pytest.raises(Exception, match='broken.wav: cannot decode'):
            dls = dblock.dataloaders(tmp_path, bs=7, num_workers=workers)
            for _ in dls.train: pass


@pytest.mark.parametrize('bad', [dict(sr=-1), dict(duration=0), dict(pad='wrap'), dict(crop='left'), dict(sr=0)])
def test_bad_arguments(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        AudioBlock(**bad)


def test_load_audio_bad_arguments(fsdd):
    for kw, name in ((dict(sr=-8000), 'sr'), (dict(offset=-1), 'offset'), (dict(duration=0), 'duration')):
        with pytest.raises(ValueError, match=name): load_audio(fsdd / '0_george_0.wav', **kw)


def test_sr_survives_everything(fsdd):
    x = load_audio(fsdd / '0_george_0.wav')
    assert pickle.loads(pickle.dumps(x)).sr == 8000
    assert x[:, :10].sr == 8000 and (x * 2).sr == 8000 and x.to('cpu').sr == 8000


@pytest.mark.parametrize('workers', [0, 2])
def test_fsdd_batches(fsdd, workers):
    dblock = DataBlock(blocks=(AudioBlock(sr=16000, duration=1.0), CategoryBlock), get_items=get_audio_files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=42))
    dls = dblock.dataloaders(fsdd, bs=32, num_workers=workers)
    xb, yb = dls.one_batch()
    assert xb.shape == (32, 1, 16000) and isinstance(xb, AudioTensor) and xb.sr == 16000
    first = [b[0].clone() for b, _ in zip(dls.valid, range(3))]
    again = [b[0].clone() for b, _ in zip(dls.valid, range(3))]
    for a, b in zip(first, again): assert torch.equal(a, b)
    assert all(isinstance(b, AudioTensor) and b.sr == 16000 for b in first)


def test_training_crop_is_random_validation_centred():
    x = AudioTensor(torch.arange(100.)[None], sr=50)  # 2 s
    fl = FixLength(duration=1.0)
    set_seed(0)
    train = {int(fl(x, split_idx=0)[0, 0]) for _ in range(20)}
    valid = {int(fl(x, split_idx=1)[0, 0]) for _ in range(5)}
    assert len(train) > 5 and valid == {25}
    short = AudioTensor(torch.ones(1, 20), sr=50)
    starts = {int(fl(short, split_idx=0)[0].nonzero()[0]) for _ in range(20)}
    assert len(starts) > 5 and {int(fl(short, split_idx=1)[0].nonzero()[0])} == {15}


@pytest.mark.parametrize('pad', ['zeros', 'repeat', 'reflect'])
def test_pad_modes_keep_the_clip(pad):
    x = torch.randn(2, 7)
    y = fix_audio_length(x, 30, pos=0.2, pad=pad)
    left = round(0.2 * 23)
    assert y.shape == (2, 30) and torch.equal(y[:, left:left + 7], x)


def test_duration_none_pads_to_longest(fsdd):
    dblock = DataBlock(blocks=(AudioBlock(sr=8000, duration=None), CategoryBlock), get_items=get_audio_files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=0))
    dls = dblock.dataloaders(fsdd, bs=8, num_workers=0)
    xb, _ = dls.one_batch()
    assert xb.ndim == 3 and xb.sr == 8000 and xb.shape[-1] > 1000


def test_show_and_hear(fsdd):
    import matplotlib.pyplot as plt
    from IPython.display import Audio
    x = load_audio(fsdd / '1_nicolas_13.wav')
    ax = x.show(title='one')
    assert ax.get_xlabel() == 'time (s)' and ax.get_title() == 'one'
    assert ax.lines[0].get_xdata()[-1] == pytest.approx((x.nsamples - 1) / 8000)
    plt.close('all')
    a = x.hear()
    assert isinstance(a, Audio) and a.data[:4] == b'RIFF'
    assert AudioTensor.create(fsdd / '1_nicolas_13.wav', sr=16000, mono=True).sr == 16000
