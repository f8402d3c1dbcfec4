"""Build the documentation site offline: `python scripts/docs.py [OUT]` (default docs/_build/html).

1. Writes the pages into docs/_src: the home page from nbs/index.ipynb, a page per notebook with its stored outputs,
   nbdev's directives honoured (cells marked `#| hide` left out, the directive lines of the others removed, exported
   code shown), grouped into the library's modules and the tutorials.
2. Runs Sphinx (myst-nb, furo, sphinx-autoapi for the API reference of every public name, read from the source).
3. Checks the site: a page per notebook and per module, every stored image of every notebook on its page, the
   search index; exits 1 naming what is missing."""
import json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS = ROOT / 'nbs', ROOT / 'docs'
SRC = DOCS / '_src'


def directives(src):
    "The nbdev directives at the top of a cell (`#| hide`, `#| export`, ...) and the cell's source without them."
    lines = src.splitlines()
    n = 0
    while n < len(lines) and (lines[n].startswith('#|') or not lines[n].strip()): n += 1
    found = {l[2:].strip().split()[0] for l in lines[:n] if l.startswith('#|') and l[2:].strip()}
    return found, '\n'.join(lines[n:])


def page(nb_path, dest):
    "The notebook at `nb_path` as a page: hidden cells out, directives off the rest; returns its number of images."
    nb = json.loads(nb_path.read_text())
    cells, images = [], 0
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code':
            found, body = directives(src)
            if found & {'hide', 'default_exp', 'exporti'} or not body.strip(): continue
            c['source'] = body
            images += sum('image/png' in o.get('data', {}) for o in c.get('outputs', []))
        cells.append(c)
    nb['cells'] = cells
    dest.write_text(json.dumps(nb, indent=1))
    return images


def write_sources():
    if SRC.exists(): shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    counts = {}
    mods = [p for p in sorted(NBS.glob('[0-9]*.ipynb')) if not re.match(r'1\d_tutorial', p.stem)]
    tuts = sorted(NBS.glob('1?_tutorial*.ipynb'))
    for p in [NBS / 'index.ipynb', *mods, *tuts]: counts[p.stem] = page(p, SRC / p.name)
    toc = lambda caption, ps: ("```{toctree}\n:caption: " + caption + "\n:maxdepth: 1\n\n" + '\n'.join(p.stem for p in ps) + "\n```\n")
    # the home page is the index notebook; the navigation follows it (the API reference is autoapi's entry)
    nb = json.loads((SRC / 'index.ipynb').read_text())
    nb['cells'].append({'cell_type': 'markdown', 'id': 'sitetoc0', 'metadata': {}, 'source':
                        toc('The library', mods) + '\n' + toc('Tutorials', tuts)})
    (SRC / 'index.ipynb').write_text(json.dumps(nb, indent=1))
    return counts


def check(out, counts):
    "What is missing from the site in `out`, as a list of lines (empty when it is whole)."
    missing = []
    for stem, n in counts.items():
        html = out / f'{stem}.html'
        if not html.is_file(): missing.append(f'{stem}.html: no page'); continue
        text = html.read_text()
        imgs = re.findall(r'<img [^>]*src="([^"]+)"', text)
        shown = [i for i in imgs if (out / i).is_file()]
        if len(shown) < n: missing.append(f'{stem}.html: {len(shown)} of its {n} stored images')
    for mod in sorted(p.stem for p in (ROOT / 'fastaudio_lite').glob('*.py') if not p.stem.startswith('_') and p.stem != 'all'):
        if not (out / 'api' / 'fastaudio_lite' / mod / 'index.html').is_file(): missing.append(f'api/fastaudio_lite/{mod}: no API page')
    if not (out / 'searchindex.js').is_file(): missing.append('searchindex.js: no search index')
    return missing


def main(out=None):
    out = Path(out or DOCS / '_build' / 'html')
    counts = write_sources()
    # -W: a docstring or page that Sphinx cannot read (a warning) fails the build
    r = subprocess.run([sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going', '-j', 'auto', '-c', str(DOCS), str(SRC), str(out)])
    if r.returncode: sys.exit(f"make docs: sphinx-build failed ({r.returncode})")
    missing = check(out, counts)
    if missing: sys.exit("make docs: the site is missing:\n  " + '\n  '.join(missing))
    print(f"make docs: {out}/index.html: {len(counts)} pages from the notebooks, {sum(counts.values())} images, the API reference")


if __name__ == '__main__': main(*sys.argv[1:])
