"""Writes audioset_parity.npz: what EfficientAT's own code computes, for tests/test_audioset.py to compare with.

For mn04 and mn10 (widths 0.4 and 1.0): the official `get_model` loaded with the random weights of
`test_audioset.random_weights`, its logits and embedding of random spectrograms; and the official front end
(`AugmentMelSTFT`, evaluation mode) of random waveforms. EfficientAT's code comes from its repository
(github.com/fschmid56/EfficientAT, MIT); its front end calls torchaudio for Kaldi's mel filters, taken here from the
torchaudio 2.9.0 wheel's `compliance/kaldi.py` (torchaudio itself does not load with this torch). Run:
    git clone https://github.com/fschmid56/EfficientAT /tmp/eat
    pip download torchaudio==2.9.0 --no-deps -d /tmp/ta && (cd /tmp/ta && unzip -o torchaudio-*.whl 'torchaudio/compliance/*')
    .venv/bin/python tests/data/make_audioset_parity.py /tmp/eat /tmp/ta/torchaudio/compliance/kaldi.py
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
from test_audioset import WIDTHS, inputs, random_weights  # noqa: E402


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
    from models.preprocess import AugmentMelSTFT
    return get_model, AugmentMelSTFT


def main(repo, kaldi_py):
    get_model, AugmentMelSTFT = official(repo, kaldi_py)
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
    np.savez_compressed(HERE / 'audioset_parity.npz', **out)
    print({k: v.shape for k, v in out.items()})


if __name__ == '__main__':
    main(Path(sys.argv[1]), Path(sys.argv[2]))
