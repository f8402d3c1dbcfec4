"The wheel a user installs: built from the repository, it holds the modules and the console script, and nothing else."
import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    # the venv's own setuptools builds it: no build environment to download
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-w', str(out), str(ROOT)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob('fastaudio_lite-*.whl')
    return zipfile.ZipFile(whl)


def test_wheel_holds_the_modules_and_nothing_else(wheel):
    names = wheel.namelist()
    modules = sorted(p.name for p in (ROOT / 'fastaudio_lite').glob('*.py'))
    assert sorted(n.split('/')[-1] for n in names if n.startswith('fastaudio_lite/')) == modules
    extra = [n for n in names if not n.startswith(('fastaudio_lite/', 'fastaudio_lite-'))]
    assert not extra, extra                           # no notebooks, tests, test data or bench scripts
    assert not [n for n in names if n.endswith(('.ipynb', '.wav', '.ogg'))]


def test_wheel_metadata(wheel):
    info = next(n for n in wheel.namelist() if n.endswith('.dist-info/METADATA'))
    meta = wheel.read(info).decode()
    reqs = [l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Requires-Dist:')]
    names = {r.split(';')[0].split('>')[0].split('<')[0].split('=')[0].split('[')[0].strip().lower() for r in reqs}
    assert {'fastai', 'torch', 'torchvision', 'timm', 'librosa', 'soundfile', 'soxr'} <= names
    assert 'torchaudio' not in names                  # the library runs on torch alone
    torch_req = next(r for r in reqs if r.split('>')[0].split('<')[0].strip() == 'torch')
    assert '<3' in torch_req.replace(' ', '') and '<2.' not in torch_req, torch_req   # no cap below torch 3
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    for extra in ('dev', 'demo', 'dist', 'hf'): assert f'Provides-Extra: {extra}' in meta
    entry = wheel.read(next(n for n in wheel.namelist() if n.endswith('.dist-info/entry_points.txt'))).decode()
    assert 'fastaudio-lite = fastaudio_lite.cli:main' in entry
    assert cfg['DEFAULT']['version'] in info


def test_make_test_refuses_a_disk_without_room_in_one_line(tmp_path):
    "scripts/run-tests.sh checks the temporary folder's free space before it runs anything, and makes no folder there."
    import os
    r = subprocess.run(['bash', str(ROOT / 'scripts' / 'run-tests.sh')], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, 'TMPDIR': str(tmp_path), 'NEED_GB': str(10 ** 9)})
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and f"{tmp_path} has" in lines[0] and 'need about 1000000000 GB' in lines[0], r.stderr
    assert r.stdout == '' and list(tmp_path.iterdir()) == []
