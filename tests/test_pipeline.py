"The loader at decode speed and the waveform cache: same batches as fastai's path, bad files named, every layout."
import pickle

import numpy as np
import pytest
import soundfile as sf
import torch
from fastai.data.all import CategoryBlock, DataBlock, RandomSplitter, parent_label
from fastai.data.core import TfmdDL
from fastai.torch_core import set_seed

from fastaudio_lite.errors import AudioError
from fastaudio_lite.core import AudioTensor, WaveCache
from fastaudio_lite.data import AudioBlock, AudioDataLoader, NameLabeller


def block(files, **kw):
    return DataBlock(blocks=(AudioBlock(**kw), CategoryBlock), get_items=lambda _: files,
                     get_y=NameLabeller(r'^(\d)_'), splitter=RandomSplitter(0.25, seed=0))


@pytest.mark.parametrize('workers', [0, 2])
def test_fast_path_matches_fastai_path(fsdd_small, workers):
    dls = block(fsdd_small[:96], sr=8000, duration=0.6).dataloaders('.', bs=16, num_workers=workers)
    for dl in (dls.train, dls.valid):
        fast, slow = dl.new(shuffle=False), dl.new(shuffle=False, cls=TfmdDL)
        assert fast._plan() is not None and type(slow) is TfmdDL
        set_seed(1); a = list(fast)
        set_seed(1); b = list(slow)
        assert len(a) == len(b) > 0
        for (xa, ya), (xb, yb) in zip(a, b):
            assert type(xa) is AudioTensor and xa.sr == 8000 and xa.shape[-1] == 4800
            torch.testing.assert_close(xa.as_subclass(torch.Tensor), xb.as_subclass(torch.Tensor))
            assert torch.equal(ya, yb)


def test_variable_length_and_stereo(tmp_path):
    files = []
    for i, n in enumerate((300, 800, 500, 1000)):
        f = tmp_path / f"{i % 2}_x_{i}.wav"
        sf.write(f, np.stack([np.full(n, 0.5), np.full(n, -0.25)], 1).astype(np.float32), 8000)
        files.append(f)
    dls = block(files, sr=8000, duration=None, mono=False).dataloaders('.', bs=4, num_workers=0)
    x, _ = dls.train.new(shuffle=False, drop_last=False, bs=3).one_batch()
    assert x.shape == (3, 2, max(sf.info(f).frames for f in dls.train_ds.items))   # padded to the longest
    assert torch.all(x[:, 0].max(-1).values == 0.5) and torch.all(x[:, 1].min(-1).values == -0.25)
    mono = block(files, sr=8000, duration=0.03).dataloaders('.', bs=4, num_workers=0)
    xm, _ = mono.valid.one_batch()
    torch.testing.assert_close(xm.as_subclass(torch.Tensor), torch.full_like(xm.as_subclass(torch.Tensor), 0.125))


@pytest.mark.parametrize('workers', [0, 2])
def test_broken_file_is_named(fsdd_small, tmp_path, workers):
    broken = tmp_path / '0_bad_1.wav'
    broken.write_bytes(b'RIFF' + b'\x00' * 40)
    dls = block(fsdd_small[:20] + [broken], sr=8000, duration=1.0).dataloaders('.', bs=7, num_workers=workers)
    with pytest.raises(AudioError, match='0_bad_1.wav'):
        for dl in (dls.train, dls.valid):
            for _ in dl: pass


def test_summary_and_show(fsdd_small):
    db = block(fsdd_small[:40], sr=8000, duration=1.0)
    db.summary('.')   # walks the pipeline item by item: fastai's path
    dls = db.dataloaders('.', bs=8, num_workers=0)
    assert type(dls.train) is AudioDataLoader
    dls.show_batch(max_n=2)
    t = dls.test_dl(fsdd_small[:3])
    x, = t.one_batch()
    assert x.shape == (3, 1, 8000) and t._plan() is not None


def test_cache_with_workers_and_export(fsdd_small, tmp_path):
    cache = WaveCache(tmp_path / 'waves', sr=16000)
    dls = block(fsdd_small[:48], sr=16000, duration=1.0, cache=cache).dataloaders('.', bs=8, num_workers=2)
    assert len(list(cache.path.glob('*.wave'))) == 48   # filled for training and validation items
    plain = block(fsdd_small[:48], sr=16000, duration=1.0).dataloaders('.', bs=8, num_workers=0)
    a, b = dls.valid.new(shuffle=False).one_batch()[0], plain.valid.new(shuffle=False).one_batch()[0]
    torch.testing.assert_close(a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor), atol=1e-3, rtol=0)
    la = dls.valid_ds.tls[0].tfms.fs[-1]
    assert pickle.loads(pickle.dumps(la)).cache is None and la.cache is cache
    with pytest.raises(ValueError, match='sr=16000'): AudioBlock(sr=8000, cache=cache)
    with pytest.raises(ValueError, match='dtype'): WaveCache(tmp_path, dtype='int8')
