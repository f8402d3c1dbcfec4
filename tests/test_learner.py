"audio_learner end to end: accuracy, stems, pretrained files, WaveCNN, export/predict, interpretation, bad input."

import matplotlib.pyplot as plt
import numpy as np
import pytest
import soundfile as sf
import timm
import torch
import torchvision
from fastai.data.all import DataBlock, CategoryBlock, RandomSplitter, set_seed
from fastai.interpret import ClassificationInterpretation
from fastai.learner import load_learner
from fastai.metrics import accuracy

from fastaudio_lite.errors import AudioError
from fastaudio_lite.core import load_audio
from fastaudio_lite.data import AudioBlock, NameLabeller
from fastaudio_lite.inference import predict_long
from fastaudio_lite.learner import audio_learner
from fastaudio_lite.nets import SpecCNN, WaveCNN
from fastaudio_lite.models import first_conv
from fastaudio_lite.spectrogram import CoordChannels, MelSpectrogram, Spectrogram, SpecNormalize, ToDB


def make_dls(files, batch_tfms, bs=32, sr=8000):
    dblock = DataBlock(blocks=(AudioBlock(sr=sr, duration=1.0), CategoryBlock), get_items=lambda _: files,
                       get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(seed=42), batch_tfms=batch_tfms)
    return dblock.dataloaders(files[0].parent, bs=bs, num_workers=0)


# 5 ms hop: on short clips the finer time axis trained resnet18 faster than a 10 ms hop
MEL = lambda: [MelSpectrogram(n_fft=256, hop_length=40, n_mels=64), ToDB(), SpecNormalize()]


@pytest.fixture(scope='module')
def mel_dls(fsdd_small): return make_dls(fsdd_small, MEL(), bs=16)


@pytest.fixture(scope='module')
def trained(mel_dls):
    set_seed(42)
    learn = audio_learner(mel_dls, 'resnet18', metrics=accuracy)
    learn.fit_one_cycle(12, 1e-2)       # 128 training clips in batches of 16: 96 steps
    return learn


@pytest.mark.slow
def test_resnet18_learns_the_digits(trained):
    acc = trained.validate()[1]
    assert acc >= 0.6, acc              # 0.78 measured (25 of 32 clips); chance is 0.25


def test_one_channel_stem_is_sum_of_rgb(mel_dls, tmp_path, monkeypatch):
    ref = timm.create_model('resnet18', num_classes=1000)
    sd = ref.state_dict()
    torch.save(sd, tmp_path / 'resnet18.pth')
    reads, load = [], torch.load
    monkeypatch.setattr(torch, 'load', lambda f, *a, **k: reads.append(f) or load(f, *a, **k))
    learn = audio_learner(mel_dls, 'resnet18', weights=tmp_path / 'resnet18.pth')
    assert len(reads) == 1, reads   # the weights file is read once, and timm is handed the state dict
    stem = first_conv(learn.model)[0].weight
    torch.testing.assert_close(stem, sd['conv1.weight'].sum(1, keepdim=True))
    body = learn.model[0].model
    torch.testing.assert_close(body.layer1[0].conv1.weight, sd['layer1.0.conv1.weight'])
    assert learn.pretrained and not next(body.layer1.parameters()).requires_grad  # frozen for fine_tune


def test_torchvision_stem_from_file(mel_dls, tmp_path):
    ref = torchvision.models.resnet18()
    torch.save(ref.state_dict(), tmp_path / 'tv.pth')
    learn = audio_learner(mel_dls, torchvision.models.resnet18, weights=tmp_path / 'tv.pth')
    torch.testing.assert_close(first_conv(learn.model)[0].weight, ref.conv1.weight.sum(1, keepdim=True))


@pytest.mark.parametrize('extra,n', [([Spectrogram(n_fft=256, hop_length=80, power=None)], 2),
                                     ([MelSpectrogram(n_fft=256, hop_length=80, n_mels=64), ToDB(), CoordChannels()], 3)])
def test_two_and_three_channel_stems_load(fsdd_small, tmp_path, extra, n):
    dls = make_dls(fsdd_small[:64], extra, bs=16)
    ref = timm.create_model('resnet18')
    torch.save(ref.state_dict(), tmp_path / 'r.pth')
    learn = audio_learner(dls, 'resnet18', weights=tmp_path / 'r.pth')
    w = first_conv(learn.model)[0].weight
    assert w.shape[1] == n
    rgb = ref.conv1.weight.detach()
    expected = rgb.repeat(1, 2, 1, 1)[:, :n] * (3 / n)  # timm's rule: repeat, then rescale
    torch.testing.assert_close(w, expected)
    learn.fit(1, 1e-3)


def test_pretrained_without_weights_warns_and_trains_from_scratch(mel_dls):
    with pytest.warns(UserWarning, match='no pretrained weights'):
        learn = audio_learner(mel_dls, 'resnet18', pretrained=True)
    assert not learn.pretrained


@pytest.mark.slow
def test_wavecnn_trains(fsdd_small):
    dls = make_dls(fsdd_small, [], bs=16)
    set_seed(0)
    learn = audio_learner(dls, WaveCNN, metrics=accuracy)
    assert first_conv(learn.model)[0].kernel_size == (80,)
    learn.fit_one_cycle(8, 1e-2)
    assert learn.validate()[1] > 0.5  # well above the 0.25 of chance on four digits


def test_fine_tune_and_bf16(mel_dls, tmp_path):
    torch.save(timm.create_model('resnet18').state_dict(), tmp_path / 'r.pth')
    learn = audio_learner(mel_dls, 'resnet18', weights=tmp_path / 'r.pth', metrics=accuracy).to_bf16()
    assert not all(p.requires_grad for p in learn.model.parameters())
    learn.fine_tune(1, 1e-3, freeze_epochs=1)
    assert all(p.requires_grad for p in learn.model.parameters()) and len(learn.recorder.values) == 1


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_fp16_on_gpu_spectrogram_float32(mel_dls):
    from fastai.callback.core import Callback
    seen = []
    class Record(Callback):
        def before_batch(self): seen.append(self.xb[0].dtype)
    learn = audio_learner(mel_dls, SpecCNN, cbs=Record()).to_fp16()
    learn.fit(1, 1e-3)
    assert set(seen) == {torch.float32}


@pytest.mark.slow
def test_export_predict_round_trip(trained, fsdd_small, tmp_path):
    fn = fsdd_small[5]
    before = trained.predict(fn)
    trained.export(tmp_path / 'model.pkl')
    learn = load_learner(tmp_path / 'model.pkl')
    after = learn.predict(fn)
    assert before[0] == after[0] and int(before[1]) == int(after[1])
    torch.testing.assert_close(before[2], after[2])
    x = load_audio(fn)
    torch.testing.assert_close(learn.predict(x)[2], after[2], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(learn.predict(load_audio(fn, sr=16000))[2], after[2], atol=0.05, rtol=0.)
    torch.testing.assert_close(learn.predict(x.numpy()[0])[2], after[2], atol=1e-4, rtol=1e-4)
    probs, _ = learn.get_preds(dl=learn.dls.test_dl(fsdd_small[:20]))
    assert probs.shape == (20, 4)
    torch.testing.assert_close(probs[5], after[2])
    (tmp_path / 'bad.wav').write_bytes(b'nope')
    with pytest.raises(AudioError, match='bad.wav'):
        learn.predict(tmp_path / 'bad.wav')


@pytest.mark.slow
def test_interpretation_and_show(trained):
    interp = ClassificationInterpretation.from_learner(trained)
    cm = interp.confusion_matrix()
    assert cm.shape == (4, 4) and cm.sum() == len(trained.dls.valid_ds)
    # most_confused: (actual, predicted, count) for each off-diagonal cell of the matrix, largest first
    vocab = list(trained.dls.vocab)
    want = sorted(((vocab[i], vocab[j], int(cm[i, j])) for i in range(4) for j in range(4) if i != j and cm[i, j] > 0),
                  key=lambda t: -t[2])
    assert sorted(interp.most_confused(), key=lambda t: (-t[2], t[0], t[1])) == sorted(want, key=lambda t: (-t[2], t[0], t[1]))
    interp.plot_confusion_matrix()
    plt.close('all')
    interp.plot_top_losses(6)
    titles = [a.get_title() for a in plt.gcf().axes if a.images]
    losses = [float(t.split(' / ')[1]) for t in titles]
    assert len(titles) == 6 and losses == sorted(losses, reverse=True), titles   # the six largest losses, in order
    plt.close('all')
    trained.show_results(max_n=4)
    titles = [a.get_title() for a in plt.gcf().axes if a.images]
    assert len(titles) == 4 and all(t.startswith('actual ') and ' / predicted ' in t for t in titles), titles
    plt.close('all')
    trained.dls.show_batch(max_n=4)
    titles = [a.get_title() for a in plt.gcf().axes if a.images]
    assert len(titles) == 4 and set(titles) <= set(map(str, vocab)), titles
    plt.close('all')
    plt.close('all')


@pytest.mark.slow
def test_predict_long(trained, fsdd_small, tmp_path):
    clips = [load_audio(f)[0].numpy() for f in fsdd_small[:4]]
    sf.write(tmp_path / 'long.wav', np.concatenate(clips), 8000)
    label, mean, probs, starts = predict_long(trained, tmp_path / 'long.wav', hop_s=0.2)
    total = sum(len(c) for c in clips) / 8000
    assert probs.shape == (len(starts), 4) and starts[0] == 0 and abs(starts[-1] - (total - 1)) < 1e-6
    torch.testing.assert_close(mean, probs.mean(0))
    assert label in trained.dls.vocab


def test_bad_input(mel_dls):
    with pytest.raises(ValueError, match='resnet18'): audio_learner(mel_dls, 'resnett18')
    with pytest.raises(ValueError, match='n_in=3'): audio_learner(mel_dls, 'resnet18', n_in=3)
    with pytest.raises(ValueError, match='2 input channels'): audio_learner(mel_dls, SpecCNN(n_in=2))
    with pytest.raises(ValueError, match='waveforms'): audio_learner(mel_dls, WaveCNN)
    with pytest.raises(ValueError, match='weights'): audio_learner(mel_dls, 'resnet18', weights='/no/such/file.pth')
    with pytest.raises(ValueError, match='arch'): audio_learner(mel_dls, 42)


def test_models_as_arch(mel_dls):
    from fastai.vision.all import xresnet18
    for arch in (SpecCNN, SpecCNN(n_in=1, n_out=4), xresnet18, torchvision.models.resnet18, 'resnet18'):
        learn = audio_learner(mel_dls, arch)
        x, _ = mel_dls.one_batch()
        assert learn.model.eval()(x).shape == (len(x), 4)


def test_weight_average_validates_exports_and_swaps(mel_dls, tmp_path):
    "WeightAverage on audio batches: the fit validates the average, the model ends as it, export keeps one weight set."
    from fastaudio_lite.callbacks import WeightAverage
    set_seed(42)
    learn = audio_learner(mel_dls, SpecCNN, metrics=accuracy, cbs=WeightAverage(span=0.5))
    learn.fit_one_cycle(2, 1e-2)
    last = learn.recorder.values[-1][1]  # read first: validate() starts the recorder again
    loss = lambda: learn.validate()[0]
    avg = loss()
    assert abs(last - avg) < 1e-5  # the last epoch's validation was the average's, now the model
    learn.weight_average.swap()
    assert abs(loss() - avg) > 1e-4  # the trained weights are another model
    learn.weight_average.swap()
    assert abs(loss() - avg) < 1e-5
    learn.export(tmp_path / 'model.pkl')
    weights = sum(t.numel() * t.element_size() for t in learn.model.state_dict().values())
    assert (tmp_path / 'model.pkl').stat().st_size < 1.5 * weights  # not the trained weights beside the average
    again = load_learner(tmp_path / 'model.pkl')
    x, _ = mel_dls.valid.one_batch()
    torch.testing.assert_close(again.model.eval()(x), learn.model.eval()(x))
