"""The independent attribute oracle that judges models on synthfaces (network and its training)."""
