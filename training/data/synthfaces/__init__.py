"""synthfaces: procedural faces with known ground truth (dataset, renderer, attribute truth)."""
