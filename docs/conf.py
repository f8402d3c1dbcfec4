"Sphinx settings of the site `make docs` builds (scripts/docs.py writes the pages into docs/_src first)."
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
cfg = configparser.ConfigParser()
cfg.read(ROOT / 'settings.ini')
meta = cfg['DEFAULT']

project = meta['lib_name']
author = meta['author']
copyright = meta['copyright']
release = version = meta['version']

extensions = ['myst_nb', 'autoapi.extension']
nb_execution_mode = 'off'              # the notebooks are committed executed: their stored outputs are shown
nb_merge_streams = True
myst_enable_extensions = ['colon_fence']
html_theme = 'furo'
html_title = f"{project} {version}"
html_static_path = []
exclude_patterns = ['_build']
default_role = 'literal'                # `name` in a docstring is code, as in the notebooks' Markdown
suppress_warnings = ['mystnb.unknown_mime_type', 'myst.header', 'misc.highlighting_failure']

autoapi_dirs = [str(ROOT / meta['lib_path'])]
autoapi_ignore = ['*_modidx*', '*/all.py']
autoapi_root = 'api'
autoapi_add_toctree_entry = True
autoapi_options = ['members', 'undoc-members', 'show-module-summary', 'imported-members']
autoapi_member_order = 'bysource'
autoapi_keep_files = False
