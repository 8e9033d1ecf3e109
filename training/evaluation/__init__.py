"""Evaluation of exported models on synthfaces, judged by an independent oracle CNN.

``oracle/`` (``model``, ``train``): the judge and its training; ``fidelity``: pure numpy
metrics; ``measure``: reconstruction, edit and generation measurements through the
served engine; ``evaluate``: the pipeline; ``figures`` / ``report``: PNGs and Markdown;
``cli``: ``register(subparsers)`` and ``main(argv)``.

Submodules are imported on demand (torch is heavy); import what you need, e.g.
``from training.evaluation.evaluate import evaluate``.
"""
