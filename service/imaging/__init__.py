"""Pixels in and out, shared by the HTTP layer and the runtime (no HTTP, no model).

``decode``: hostile uploads -> model input and the oriented original; ``encode``: model
outputs -> PNG; ``residual``: an edit pasted back into the original at full resolution.
Its own package rather than part of ``service.api`` because the runtime's pipelines need it
too, and nothing here knows about HTTP.
"""
