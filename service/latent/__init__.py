"""Pure numpy latent math shared by the service and training: edits, the fitted prior, samplers."""
