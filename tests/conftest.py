import os

# Tests and CI are offline and must never try to download: Hugging Face's switches, read at import, before anything imports it.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'

from pathlib import Path

import matplotlib
import pytest
import torch
from fastai.torch_core import set_seed

matplotlib.use('Agg')
ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT / 'tests' / 'data' / 'fsdd' / 'recordings'   # the repository's credited FSDD subset (its README)
CUDA = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')]   # scripts/gpu-check runs these
DEVICES = ['cpu', pytest.param('cuda', marks=CUDA)]


@pytest.fixture(scope='module', autouse=True)
def seeded_module():
    "Module fixtures (data loaders, trained learners) are built from the same random state on every run."
    set_seed(0)


@pytest.fixture(autouse=True)
def seeded():
    "Each test starts from the same random state: it passes or fails the same way on every run, CI's included."
    set_seed(0)


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: trains a model or reads the whole data set (still run by make test)')
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU; skipped without one (scripts/gpu-check runs them: pytest -m cuda)')


@pytest.fixture(scope='session')
def fsdd():
    "400 FSDD recordings: five speakers, ten digits, indices 0-2 (the official test split) and 10-14 (training)."
    assert len(list(FSDD.glob('*.wav'))) == 400, f'the FSDD subset at {FSDD} is incomplete'
    return FSDD


@pytest.fixture(scope='session')
def fsdd_small(fsdd):
    "Four digits, all five speakers: 160 files."
    return sorted(f for f in fsdd.glob('*.wav') if f.name[0] in '0123')
