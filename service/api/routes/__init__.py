"""HTTP routes, one module per concern: editing (encode/reconstruct/edit/decode), generation, ops."""
