"""``htrbatch serve``: an upload page and an HTTP API over one loaded model.

:mod:`htrbatch.serve.engine` does the work (page pool, shared recogniser batches) without any
web code; :mod:`htrbatch.serve.app` is the FastAPI application; ``static/`` is the page, plain
HTML/CSS/JS shipped in the package (no CDN). FastAPI, uvicorn and python-multipart come with the
``serve`` extra: ``pip install 'htrbatch[serve]'``.
"""
