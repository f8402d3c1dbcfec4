"""The web page of a model, in a real browser: Debian's chromium driven by Playwright against `fastaudio-lite serve`
on 127.0.0.1. An upload and a microphone recording (Chromium's fake capture device playing a file) are classified as
`predict` classifies them; an undecodable file is refused in the page and the next one still works; two pages at once
get their own answers; the page asks nothing of any host but 127.0.0.1. The Space `fastaudio-lite space` writes
starts the same page, without torch for an ONNX model."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, noise, tone, tone_learner
import fastaudio_lite.export  # noqa: F401 (learn.export_onnx)
import fastaudio_lite.safe  # noqa: F401 (learn.export_safe)

CHROMIUM = '/usr/bin/chromium'   # Debian's; make test installs it when missing
CLI = [sys.executable, '-c', 'import sys; from fastaudio_lite.cli import main; sys.exit(main())']
TRAINING = ('torch', 'fastai', 'fastcore', 'torchvision', 'timm', 'librosa', 'transformers')


def refusing(names):
    "A sitecustomize.py whose import finder refuses the packages `names`, for a process that must do without them."
    return f'''import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {tuple(names)!r}: raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Refuse())
'''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextmanager
def server(args, env=None, cwd=None):
    "Start a page (`args`: the command) on a free port of 127.0.0.1; yield its address; stop it."
    port = free_port()
    log = open(Path(cwd or '.') / f'server-{port}.log', 'w+') if cwd else subprocess.DEVNULL
    p = subprocess.Popen([a.replace('{port}', str(port)) for a in map(str, args)], stdout=log, stderr=subprocess.STDOUT,
                         env={**os.environ, 'GRADIO_SERVER_PORT': str(port), **(env or {})}, cwd=cwd)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(600):
            if p.poll() is not None: break
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200: break
            except OSError: time.sleep(0.2)
        if p.poll() is not None:
            if cwd: log.seek(0)
            raise AssertionError(f"the page did not start: {log.read()[-3000:] if cwd else p.returncode}")
        yield url
    finally:
        p.terminate()
        try: p.wait(20)
        except subprocess.TimeoutExpired: p.kill()


def wav(path, freq=None, secs=0.5, seed=0, tones=()):
    "A recording of noise, with a tone at `freq` over all of it, or `tones` of (freq, onset, offset)."
    rng = np.random.default_rng(seed)
    n = int(secs * SR)
    x = noise(n, rng)
    if freq: x += tone(freq, n, rng)
    for f, a, b in tones: x[int(a * SR):int(b * SR)] += tone(f, int(b * SR) - int(a * SR), rng)
    sf.write(path, x.astype(np.float32), SR)
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('serve')
    learn = tone_learner(d)
    learn.export_safe(d / 'model.safetensors')
    learn.export_onnx(d / 'model.onnx')
    wav(d / 'high.wav', 2000, seed=1)
    wav(d / 'low.wav', 500, seed=2)
    wav(d / 'mic.wav', 2000, secs=3, seed=3)   # what the fake microphone plays, over and over
    wav(d / 'long.wav', secs=8, seed=4, tones=[(500, 1.0, 2.5), (2000, 5.0, 6.0)])
    (d / 'junk.wav').write_bytes(b'RIFF\x24\x00\x00\x00WAVEjunk' * 20)
    return d


@pytest.fixture(scope='module')
def browser(files):
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: make test installs Debian's chromium (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
            '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', f'--use-file-for-fake-audio-capture={files / "mic.wav"}'])
        yield b
        b.close()


@pytest.fixture(scope='module')
def page_url(files):
    with server(CLI + ['serve', files / 'model.safetensors', '--port', '{port}'], cwd=files) as url: yield url


class Page:
    "A browser page of the app, with every request it makes kept in `requests`."
    def __init__(self, browser, url):
        self.ctx = browser.new_context(permissions=['microphone'], viewport={'width': 1280, 'height': 900})
        self.requests = []
        self.ctx.on('request', lambda r: self.requests.append(r.url))
        self.p, self.url = self.ctx.new_page(), url
        self.p.goto(url)
        self.p.wait_for_selector('input[type=file]', state='attached', timeout=60000)
    def upload(self, f):
        clear = self.p.get_by_role('button', name='Clear')
        if clear.count(): clear.first.click()   # the recording before
        self.p.wait_for_selector('input[type=file]', state='attached', timeout=30000)
        self.p.set_input_files('input[type=file]', str(f))
        self.loaded()
    def loaded(self): self.p.locator('[data-testid="download-link"]').wait_for(timeout=30000)   # the player holds the file
    def classify(self): self.p.get_by_role('button', name='Classify').click()
    def label(self, old=None):
        "The top label shown, once the result has come (a different one than `old`, or any)."
        out = self.p.locator('[data-testid="label-output-value"]')
        self.p.wait_for_function('([sel, old]) => { const e = document.querySelector(sel); return e && e.innerText.trim() && e.innerText.trim() !== old }',
                                 arg=['[data-testid="label-output-value"]', old or ''], timeout=60000)
        return out.inner_text().strip()
    def summary(self): return self.p.locator('#summary').inner_text()
    def elsewhere(self): return [u for u in self.requests if not u.startswith((self.url, 'data:', 'blob:'))]   # none may leave 127.0.0.1
    def close(self): self.ctx.close()


def predicted(model, f):
    r = subprocess.run(CLI + ['predict', model, f], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.split('\t')[1]


@pytest.mark.slow
def test_upload_agrees_with_predict(files, browser, page_url, tmp_path):
    page = Page(browser, page_url)
    page.p.screenshot(path=tmp_path / 'before.png', full_page=True)
    for f in ('high.wav', 'low.wav'):
        page.upload(files / f)
        old = page.p.locator('[data-testid="label-output-value"]').all_inner_texts()
        page.classify()
        assert page.label(old[0] if old else None) == predicted(files / 'model.safetensors', files / f) == f[:-4]
    assert 'the model classifies its centred 0.5 s at 8000 Hz' in page.summary()
    page.p.screenshot(path=tmp_path / 'after.png', full_page=True)
    assert all((tmp_path / n).stat().st_size > 20_000 for n in ('before.png', 'after.png'))
    assert page.requests and not page.elsewhere(), page.elsewhere()
    page.close()


@pytest.mark.slow
def test_microphone_recording(files, browser, page_url):
    "Chromium's fake microphone plays mic.wav (a 2 kHz tone); the recording is classified as it."
    page = Page(browser, page_url)
    page.p.get_by_role('button', name='Record audio').click()
    page.p.get_by_role('button', name='Record', exact=True).click()
    time.sleep(1.5)
    page.p.get_by_role('button', name='Stop', exact=True).first.click()
    page.loaded()
    page.classify()
    assert page.label() == 'high'
    assert page.requests and not page.elsewhere(), page.elsewhere()
    page.close()


@pytest.mark.slow
def test_bad_file_then_a_good_one(files, browser, page_url):
    "An undecodable upload is named in the page, and the server goes on: the next file is classified."
    page = Page(browser, page_url)
    page.p.set_input_files('input[type=file]', str(files / 'junk.wav'))
    page.classify()
    page.p.get_by_text('junk.wav: cannot be decoded as audio').first.wait_for(timeout=60000)
    page.p.reload()
    page.p.wait_for_selector('input[type=file]', state='attached', timeout=60000)
    page.upload(files / 'low.wav')
    page.classify()
    assert page.label() == 'low'
    page.close()


@pytest.mark.slow
def test_two_pages_at_once(files, browser, page_url):
    a, b = Page(browser, page_url), Page(browser, page_url)
    a.upload(files / 'high.wav'); b.upload(files / 'low.wav')
    a.classify(); b.classify()
    assert (a.label(), b.label()) == ('high', 'low')
    assert not a.elsewhere() + b.elsewhere()
    a.close(); b.close()


@pytest.mark.slow
def test_a_long_recording_gets_a_timeline_and_events(files, browser, page_url, tmp_path):
    page = Page(browser, page_url)
    page.upload(files / 'long.wav')
    page.classify()
    page.label()
    page.p.get_by_text('longer than the model').first.wait_for(timeout=60000)
    s = page.summary()
    assert '8.0 s, longer than the model\'s 0.5 s clip: 31 windows' in s and 'event(s)' in s, s
    page.p.screenshot(path=tmp_path / 'long.png', full_page=True)
    labels = page.p.locator('[data-testid^="cell-"][data-testid$="-0"]').all_inner_texts()   # the events table's first column
    assert [l.strip() for l in labels] == ['noise', 'low', 'noise', 'high', 'noise'], labels
    page.close()


@pytest.mark.slow
def test_space_runs_without_torch(files, browser, tmp_path):
    "fastaudio-lite space writes app.py, requirements.txt, README.md and the model; the ONNX Space starts with torch refused."
    space = tmp_path / 'space'
    r = subprocess.run(CLI + ['space', files / 'model.onnx', space, '--max-mb', '3'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in space.iterdir()) == ['README.md', 'app.py', 'fastaudio_lite', 'model.onnx', 'requirements.txt']
    reqs = (space / 'requirements.txt').read_text().split()   # the versions it was written with, pinned
    from importlib.metadata import version
    assert reqs == [f'{n}=={version(n)}' for n in ('numpy', 'soundfile', 'soxr', 'onnxruntime', 'matplotlib')], reqs
    assert 'max_file_size=3145728' in (space / 'app.py').read_text()
    meta = (space / 'README.md').read_text()
    assert meta.startswith('---\ntitle: "Sounds: high, low, noise"\n') and '\nsdk: gradio\n' in meta and '\napp_file: app.py\n' in meta
    (tmp_path / 'block').mkdir()
    (tmp_path / 'block' / 'sitecustomize.py').write_text(refusing(TRAINING))
    with server([sys.executable, space / 'app.py'], env={'PYTHONPATH': str(tmp_path / 'block')}, cwd=tmp_path) as url:
        page = Page(browser, url)
        page.upload(files / 'high.wav')
        page.classify()
        assert page.label() == 'high'
        assert '(ONNX)' in page.summary()
        page.close()
    r = subprocess.run(CLI + ['space', files / 'model.onnx', space], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'exists and is not an empty folder' in r.stderr


def test_without_gradio_the_command_says_what_to_install(files, tmp_path):
    (tmp_path / 'sitecustomize.py').write_text(refusing(['gradio']))
    env = {**os.environ, 'PYTHONPATH': str(tmp_path)}
    r = subprocess.run(CLI + ['serve', files / 'model.onnx'], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2 and r.stderr.strip() == "fastaudio-lite serve: error: the page needs Gradio: pip install 'fastaudio_lite[serve]'", r.stderr
    r = subprocess.run([sys.executable, '-c', 'import fastaudio_lite.serve, fastaudio_lite.all'], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]   # the library imports without it


@pytest.mark.parametrize('args,msg', [
    (['--max-mb', '0'], '--max-mb must be a positive number'),
    (['--port', '0'], '--port must be 1 to 65535'),
    (['--background', 'owl'], "--background: 'owl' is not one of the model's labels"),
])
def test_bad_serve_options_are_one_line(files, args, msg):
    r = subprocess.run(CLI + ['serve', files / 'model.onnx', *args], capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f'fastaudio-lite serve: error: {msg}'), r.stderr


@pytest.mark.slow
def test_an_explicit_max_mb_serves_and_uploads_are_removed(files, browser, tmp_path):
    "`serve --max-mb 1.5` starts (Gradio takes the limit in bytes); each upload is removed from the server once classified."
    uploads = tmp_path / 'uploads'
    with server(CLI + ['serve', files / 'model.onnx', '--port', '{port}', '--max-mb', '1.5'], env={'GRADIO_TEMP_DIR': str(uploads)},
                cwd=tmp_path) as url:
        page = Page(browser, url)
        page.upload(files / 'high.wav')
        assert list(uploads.rglob('high.wav')), 'the upload is on the server while it waits'
        page.classify()
        assert page.label() == 'high'
        deadline = time.time() + 30
        while list(uploads.rglob('*.wav')) and time.time() < deadline: time.sleep(0.2)
        assert not list(uploads.rglob('*.wav')), list(uploads.rglob('*'))
        page.close()


@pytest.mark.slow
def test_a_safetensors_space_carries_the_library_and_pinned_versions(files, tmp_path):
    space = tmp_path / 'space'
    r = subprocess.run(CLI + ['space', files / 'model.safetensors', space], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    reqs = (space / 'requirements.txt').read_text().split()
    assert reqs and all('==' in q for q in reqs) and not any('git+' in q for q in reqs), reqs
    assert (space / 'fastaudio_lite' / 'safe.py').exists() and (space / 'fastaudio_lite' / 'recipes.py').exists()
    r = subprocess.run(CLI + ['space', files / 'model.onnx', '/proc/x'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and r.stderr.count('\n') == 1, r.stderr
