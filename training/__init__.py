"""Training pipeline for VAC and IntroVAC: data, networks, losses, trainer, export."""
