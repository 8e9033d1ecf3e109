"""``python -m training.evaluation {oracle,evaluate,compare}``: see :mod:`training.evaluation.cli`."""

import sys

from training.evaluation.cli import main

sys.exit(main())
