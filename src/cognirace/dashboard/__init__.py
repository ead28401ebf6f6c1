"""The live race dashboard's static files (``static/``), served by ``api.routes_dashboard``.

Plain ES modules, CSS and SVG, with no build step: the files here are the files the
browser runs. Vendored libraries sit under ``static/vendor/``, each with its licence and
its sha256 in ``static/vendor/MANIFEST.json`` (from the npm registry's tarball).
"""
