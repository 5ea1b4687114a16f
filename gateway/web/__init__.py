"""The live web map: the air picture made from the pipeline's output (``picture``, sans-IO)
and the HTTP server that shows it to browsers (``server``); docs/web.md for users."""
