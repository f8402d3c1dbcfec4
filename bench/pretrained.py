"""Pretrained audio CNNs (issue 55): each AudioSet CNN of `audioset.archs` (EfficientAT's MobileNets and dynamic MobileNets, PANNs' CNN14)
by its size, its cost and its speed.

- Parameters (the 527-class AudioSet head included).
- Multiply-accumulates of one one-second clip through the network (torch's `FlopCounterMode`, FLOPs / 2; the front end
  not counted), at the rate and front end the checkpoint was trained with.
- Throughput: one-second clips a second on this machine's CPU (and on a CUDA GPU when there is one), waveform to
  logits (front end included), inference (eval, no gradients), batches of 32 (256 on a GPU), best of 3.
Random weights: size and speed do not depend on them. Results are kept in bench/out/pretrained.json as they come.
"""
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, best_of, md_table, write_result
from fastaudio_lite.audioset import archs
from fastaudio_lite.core import AudioTensor, plain_tensor

NAMES = ['mn01_as', 'mn02_as', 'mn04_as', 'mn05_as', 'mn10_as', 'mn20_as', 'mn30_as', 'mn40_as', 'dymn04_as', 'dymn10_as', 'dymn20_as', 'cnn14', 'cnn14_16k']
STORE = OUT / 'pretrained.json'


def measure(name, device):
    "`{params, macs, clips_per_s}` of `name` on `device`."
    from torch.utils.flop_counter import FlopCounterMode
    a = archs[name]
    model = a.model().eval().to(device)
    bs = 256 if device == 'cuda' else 32
    x = AudioTensor(torch.randn(bs, 1, a.sr, device=device) * 0.1, sr=a.sr)
    front = a.front_end()
    def spec(x):
        for t in front: x = t(x)
        return plain_tensor(x)
    def run():
        with torch.no_grad(): return model(spec(x))
    with torch.no_grad(), FlopCounterMode(display=False) as fc: model(spec(x[:1]))
    t = best_of(run, repeat=3, warmup=1)
    return dict(params=sum(p.numel() for p in model.parameters()), macs=fc.get_total_flops() / 2, clips_per_s=bs / t)


def main():
    res = json.loads(STORE.read_text()) if STORE.exists() else {}
    devices = os.environ.get('BENCH_DEVICES', 'cpu,cuda').split(',')   # scripts/gpu-check: cuda
    devices = [d for d in devices if d != 'cuda' or torch.cuda.is_available()]
    for dev in devices:
        for name in NAMES:
            if name in res.get(dev, {}): continue
            res.setdefault(dev, {})[name] = measure(name, dev)
            STORE.parent.mkdir(parents=True, exist_ok=True)
            STORE.write_text(json.dumps(res, indent=1))
            print(dev, name, res[dev][name], flush=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    rows = []
    for name in NAMES:
        c = res.get('cpu', {}).get(name) or res['cuda'][name]
        rate = lambda dev, none: f"{res[dev][name]['clips_per_s']:,.0f}" if name in res.get(dev, {}) else none
        rows.append([name, f"{c['params'] / 1e6:.2f} M", f"{c['macs'] / 1e9:.3f} G", f"{archs[name].sr // 1000} kHz",
                     rate('cpu', '(not measured)'), rate('cuda', '(no GPU in this run)')])
    notes = ("Parameters include the 527-class AudioSet head. Multiply-accumulates: one one-second clip through the network "
             "(torch's FlopCounterMode, FLOPs / 2; the front end not counted), at the rate and with the front end the checkpoint "
             "was trained with (mn10_as: 0.063 G a second, as EfficientAT's 0.58 G for its 10-s clips). Throughput: one-second "
             "clips a second, waveform to logits (front end included), inference (eval, no gradients), best of 3; random "
             "weights, as size and speed do not depend on them. The CPU rows were measured while another benchmark ran at the "
             "lowest priority on the same two cores. Results are kept in bench/out/pretrained.json; delete a device's entries "
             "to measure them again.")
    write_result('pretrained', 'AudioSet CNNs: size, cost and speed (one-second clips)',
                 md_table(['arch', 'parameters', 'multiply-accumulates per clip', 'rate', 'CPU clips/s (batches of 32)',
                           f"GPU clips/s (batches of 256{', ' + gpu if gpu else ''})"], rows), notes=notes)


if __name__ == '__main__':
    main()
