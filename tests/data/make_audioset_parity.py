"""Writes audioset_parity.npz: what EfficientAT's and PANNs' own code computes, for tests/test_audioset.py to compare with.

For mn04 and mn10 (widths 0.4 and 1.0), and dymn04: EfficientAT's `get_model` loaded with the random weights of
`test_audioset.random_weights` (DyMN's kernels mixed at temperature 1, as its AudioSet checkpoints are), its logits and
embedding of random spectrograms; its front end (`AugmentMelSTFT`,
evaluation mode) of random waveforms. For CNN14: PANNs' `Cnn14` with random weights, its probabilities and embedding of
random log-mel spectrograms (its own front end set aside), and that front end (torchlibrosa's `Spectrogram` and
`LogmelFilterBank`) of the same waveforms. The code comes from the repositories (github.com/fschmid56/EfficientAT and
github.com/qiuqiangkong/audioset_tagging_cnn, both MIT) and the torchlibrosa 0.1.0 wheel; EfficientAT's front end calls
torchaudio for Kaldi's mel filters, taken from the torchaudio 2.9.0 wheel's `compliance/kaldi.py` (torchaudio itself
does not load with this torch). Run:
    git clone https://github.com/fschmid56/EfficientAT /tmp/eat
    git clone https://github.com/qiuqiangkong/audioset_tagging_cnn /tmp/panns
    pip download torchaudio==2.9.0 torchlibrosa==0.1.0 --no-deps -d /tmp/ta
    (cd /tmp/ta && unzip -o torchaudio-*.whl 'torchaudio/compliance/*' && unzip -o torchlibrosa-*.whl -d tl)
    .venv/bin/python tests/data/make_audioset_parity.py /tmp/eat /tmp/panns /tmp/ta
"""
import contextlib
import importlib.util
import io
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from test_audioset import DY_WIDTHS, PANNS_FRONT, WIDTHS, inputs, random_weights  # noqa: E402


def official(repo, kaldi_py):
    "EfficientAT's `get_model` and `AugmentMelSTFT`, with torchaudio's Kaldi module in place of the package."
    ta = types.ModuleType('torchaudio')
    ta.compliance = types.ModuleType('torchaudio.compliance')
    sys.modules.update({'torchaudio': ta, 'torchaudio.compliance': ta.compliance})
    spec = importlib.util.spec_from_file_location('torchaudio.compliance.kaldi', kaldi_py)
    kaldi = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kaldi)
    ta.compliance.kaldi = sys.modules['torchaudio.compliance.kaldi'] = kaldi
    sys.path.insert(0, str(repo))
    os.chdir(repo)   # helpers/utils.py reads metadata/ from the working folder
    from models.mn.model import get_model
    from models.dymn.model import get_model as get_dymn
    from models.preprocess import AugmentMelSTFT
    return get_model, get_dymn, AugmentMelSTFT


def panns(repo, ta):
    "PANNs' `Cnn14`, with torchlibrosa from its wheel."
    sys.path[:0] = [str(ta / 'tl'), str(repo / 'pytorch')]
    from models import Cnn14
    sys.modules.pop('models')   # EfficientAT's package has the same name
    sys.path.remove(str(repo / 'pytorch'))
    return Cnn14


def cnn14_outputs(Cnn14, wave):
    "PANNs' CNN14 of random log-mel spectrograms with random weights, and its front end of `wave`."
    rng = np.random.default_rng(2)
    logmel = torch.from_numpy(rng.standard_normal((2, 1, 64, 101)).astype(np.float32))   # our layout: (batch, 1, bands, frames)
    m = Cnn14(**PANNS_FRONT).eval()
    front = {k: v for k, v in m.state_dict().items() if k.startswith(('spectrogram_extractor.', 'logmel_extractor.'))}
    weights = random_weights({k: v for k, v in m.state_dict().items() if k not in front})
    m.load_state_dict({**front, **weights})
    with torch.no_grad():
        spec = m.logmel_extractor(m.spectrogram_extractor(wave))[:, 0].transpose(1, 2)   # (batch, bands, frames)
        m.spectrogram_extractor, m.logmel_extractor = torch.nn.Identity(), torch.nn.Identity()
        out = m(logmel.transpose(2, 3))   # its own layout: (batch, 1, frames, bands)
    return dict(cnn14_logmel=logmel.numpy(), cnn14_probs=out['clipwise_output'].numpy(), cnn14_embedding=out['embedding'].numpy(),
                cnn14_front=spec.numpy())


def main(eat, panns_repo, ta):
    Cnn14 = panns(panns_repo, ta)
    get_model, get_dymn, AugmentMelSTFT = official(eat, ta / 'torchaudio' / 'compliance' / 'kaldi.py')
    stft = torch.stft
    def stft_real(*a, return_complex=None, **kw):   # this torch no longer returns real pairs; the same numbers as complex
        X = stft(*a, return_complex=True, **kw)
        return X if return_complex else torch.view_as_real(X)
    torch.stft = stft_real
    wave, spec = inputs()
    out = dict(wave=wave.numpy(), spec=spec.numpy())
    mel = AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320, freqm=0, timem=0).eval()
    with torch.no_grad(): out['front'] = mel(wave).numpy()
    for name, width in WIDTHS.items():
        with contextlib.redirect_stdout(io.StringIO()):   # get_model prints the model
            m = get_model(width_mult=width, head_type='mlp', se_dims='c').eval()
        m.load_state_dict(random_weights(m.state_dict()))
        with torch.no_grad(): logits, emb = m(spec)
        out[f'{name}_logits'], out[f'{name}_embedding'] = logits.numpy(), emb.numpy()
    for name, width in DY_WIDTHS.items():
        with contextlib.redirect_stdout(io.StringIO()):
            m = get_dymn(width_mult=width).eval()
            for mod in m.modules():
                if hasattr(mod, 'temperature'): mod.temperature = 1.
        m.load_state_dict(random_weights(m.state_dict()))
        with torch.no_grad(): logits, emb = m(spec)
        out[f'{name}_logits'], out[f'{name}_embedding'] = logits.numpy(), emb.numpy()
    out.update(cnn14_outputs(Cnn14, wave))
    np.savez_compressed(HERE / 'audioset_parity.npz', **out)
    print({k: v.shape for k, v in out.items()})


if __name__ == '__main__':
    main(*(Path(a) for a in sys.argv[1:4]))
