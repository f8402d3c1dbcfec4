"""Execute the notebooks and store their outputs, small and free of machine paths: `python scripts/run-nbs.py [NB...]`.

Each notebook runs as `nbdev-test` runs it (execnb's shell, `IN_TEST=1`: the tutorials in their reduced form), from
`nbs/`, with figures at 60 dpi as PNG (stored at most 720 pixels wide in 128 colours). Then its outputs are cleaned (also alone: `--clean [NB...]`): progress bars dropped, warnings and other stderr
dropped, absolute paths (the repository, temporary folders, the home folder) replaced, execution counts reset. A
notebook that fails is left as it was and named, and the script exits 1."""
import json, os, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SETUP = """import matplotlib
matplotlib.rcParams.update({'figure.dpi': 60, 'savefig.dpi': 60})
from fastprogress import fastprogress
fastprogress.NO_BAR = True
import fastai.callback.progress, fastcore.basics
"""
PATHS = [(re.escape(str(ROOT)), '.'), (re.escape(tempfile.gettempdir()) + r'/[^\s\'"]*', '/tmp/...'),
         (re.escape(str(Path.home())), '~')]


def clean_text(s):
    for pat, rep in PATHS: s = re.sub(pat, rep, s)
    return s


def terminal(s):
    "Text as a terminal shows it: each carriage return overwrites its line (progress bars leave nothing)."
    s = s.replace('\u2588\r', '')
    return '\n'.join(l.rsplit('\r', 1)[-1] for l in s.split('\n'))


def small_png(b64):
    "A stored figure at most 720 pixels wide, in a palette of 128 colours: a fraction of the bytes, the same picture."
    import base64, io
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    if im.width > 720: im = im.resize((720, round(im.height * 720 / im.width)), Image.LANCZOS)
    out = io.BytesIO()
    im.convert('RGB').quantize(colors=128).save(out, format='PNG', optimize=True)
    return base64.b64encode(out.getvalue()).decode() if out.tell() < len(b64) * 3 // 4 else b64


def clean(nb):
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        c['execution_count'] = None
        outs = []
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr': continue   # warnings, progress
            data = o.get('data', {})
            html = ''.join(data.get('text/html', ''))
            if '<progress' in html or 'progress-bar' in html: continue
            if 'text/html' in data and 'text/plain' in data and '<style' in html and 'progress' in html: continue
            o.pop('execution_count', None) if o.get('output_type') != 'execute_result' else o.update(execution_count=None)
            if o.get('output_type') == 'stream':
                text = terminal(clean_text(''.join(o.get('text', ''))))
                if not text.strip(): continue
                o['text'] = text.splitlines(keepends=True)
            if 'image/png' in data: data['image/png'] = small_png(''.join(data['image/png']).strip())
            for k in ('text/plain', 'text/html', 'text/markdown'):
                if k in data: data[k] = [clean_text(t) for t in (data[k] if isinstance(data[k], list) else [data[k]])]
            outs.append(o)
        c['outputs'] = outs
    return nb


def run(path):
    from fastcore.nbio import read_nb
    from execnb.shell import CaptureShell
    from nbdev.test import _skip_cell
    os.environ['IN_TEST'] = '1'
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        nb = read_nb(path)
        shell = CaptureShell(path, mpl_format='png')
        shell.run_cell(SETUP)
        shell.run_all(nb, exc_stop=True, preproc=_skip_cell(nb, None, None))
    finally: os.chdir(cwd)
    raw = json.loads(json.dumps(nb, default=dict))
    old = json.loads(path.read_text())
    for c, o in zip(old['cells'], raw['cells']): c['outputs'] = o.get('outputs', []) if c['cell_type'] == 'code' else c.get('outputs')
    for c in old['cells']:
        if c['cell_type'] != 'code': c.pop('outputs', None)
    path.write_text(json.dumps(clean(old), indent=1, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['--clean']:       # clean the stored outputs again, without running
        for p in [Path(a) for a in args[1:]] or sorted(NBS.glob('*.ipynb')):
            p.write_text(json.dumps(clean(json.loads(p.read_text())), indent=1, ensure_ascii=False) + '\n')
        sys.exit()
    todo = [Path(a).resolve() for a in args] or sorted(NBS.glob('*.ipynb'))
    failed = []
    for p in todo:
        print(f"running {p.name}", flush=True)
        try: run(p)
        except Exception as e:
            failed.append(p.name)
            print(f"{p.name}: failed: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
    if failed: sys.exit(f"failed: {', '.join(failed)}")
