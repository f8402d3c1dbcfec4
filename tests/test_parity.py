"""Parity of the library's own torch signal code with the references it replaces or matches: mel filterbanks (librosa),
the DCT (scipy), deltas (librosa), the band-limited resampler (soxr, librosa's default) and AST's Kaldi filterbank
features (transformers' `ASTFeatureExtractor`). Tolerances are stated beside each check."""
import numpy as np
import pytest
import scipy.fft
import soxr
import torch
import librosa
from conftest import DEVICES

from fastaudio_lite.core import resample
from fastaudio_lite.models import ASTFeatures, kaldi_fbank
from fastaudio_lite.spectrogram import dct_matrix, deltas, mel_fbanks


@pytest.mark.parametrize('mel_scale', ['htk', 'slaney'])
@pytest.mark.parametrize('norm', [None, 'slaney'])
@pytest.mark.parametrize('sr,n_fft,n_mels,fmin,fmax', [(16000, 512, 64, 20., 8000.), (22050, 1024, 128, 0., 11025.),
                                                       (8000, 256, 40, 50., 3000.)])
def test_mel_fbanks_match_librosa(mel_scale, norm, sr, n_fft, n_mels, fmin, fmax):
    ours = mel_fbanks(n_fft // 2 + 1, fmin, fmax, n_mels, sr, norm, mel_scale)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=mel_scale == 'htk', norm=norm)
    assert ours.shape == (n_fft // 2 + 1, n_mels) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy().T, ref, rtol=0, atol=1e-6 * np.abs(ref).max())   # float32 rounding


@pytest.mark.parametrize('norm', [None, 'ortho'])
def test_dct_matrix_matches_scipy(norm):
    x = np.random.default_rng(0).standard_normal((7, 64))
    ours = x @ dct_matrix(20, 64, norm).double().numpy()
    np.testing.assert_allclose(ours, scipy.fft.dct(x, type=2, norm=norm)[:, :20], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match='norm'): dct_matrix(20, 64, 'forward')


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('win_length', [3, 5, 9])
def test_deltas_match_librosa(device, win_length):
    S = np.random.default_rng(1).standard_normal((3, 2, 40, 50)).astype(np.float32)
    ours = deltas(torch.tensor(S, device=device), win_length)
    assert ours.shape == S.shape and ours.device.type == device
    ref = librosa.feature.delta(S, width=win_length, mode='nearest')    # Savitzky-Golay slope, edges repeated
    np.testing.assert_allclose(ours.cpu().numpy(), ref, rtol=0, atol=1e-5)


def _tones(sr, top, seconds=1.0):
    t = np.arange(int(sr * seconds)) / sr
    return sum(np.sin(2 * np.pi * f * t + f) for f in (220., 1000., top)) / 3


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('orig,new', [(8000, 16000), (16000, 8000), (44100, 16000), (16000, 22050), (22050, 16000)])
def test_resample_matches_soxr(device, orig, new):
    y = _tones(orig, 0.35 * min(orig, new))          # every tone inside both pass bands
    ours = resample(torch.tensor(y, dtype=torch.float32, device=device).expand(2, 3, -1), orig, new)
    assert ours.shape == (2, 3, -(-len(y) * new // orig)) and ours.device.type == device
    ref = soxr.resample(y, orig, new, quality='HQ')
    edge = new // 20                                 # both filters see zeros past the ends: compare the inside
    np.testing.assert_allclose(ours[1, 2, edge:-edge].cpu().numpy(), ref[edge:-edge], rtol=0, atol=1e-4)
    if new < orig:   # a tone above the new Nyquist frequency is removed, not folded back into the band
        high = torch.tensor(np.sin(2 * np.pi * 0.45 * orig * np.arange(orig) / orig), dtype=torch.float32, device=device)
        assert resample(high, orig, new)[edge:-edge].abs().max() < 1e-3


def test_kaldi_fbank_matches_ast_feature_extractor():
    from transformers import ASTFeatureExtractor
    rng = np.random.default_rng(2)
    waves = [(rng.standard_normal(n) * 0.1 + 0.3 * np.sin(np.arange(n) / 7)).astype(np.float32) for n in (16000, 16000)]
    fe = ASTFeatureExtractor(max_length=1024, do_normalize=False)
    ours = kaldi_fbank(torch.tensor(np.stack(waves)))
    assert ours.shape == (2, 98, 128)                # 25 ms frames every 10 ms, the edges snipped
    for o, w in zip(ours, waves):
        ref = fe(w, sampling_rate=16000, return_tensors='np')['input_values'][0][:len(o)]
        np.testing.assert_allclose(o.numpy(), ref, rtol=0, atol=1e-3)   # log energies of about -16 to 5
    # the module: padded to max_length and normalised as the extractor does
    fe = ASTFeatureExtractor(max_length=120)
    ref = fe(waves[0], sampling_rate=16000, return_tensors='np')['input_values'][0]
    mod = ASTFeatures(16000, fe.num_mel_bins, fe.max_length, fe.mean, fe.std, fe.do_normalize)
    np.testing.assert_allclose(mod(torch.tensor(waves[0])[None, None])[0].numpy(), ref, rtol=0, atol=1e-3)
