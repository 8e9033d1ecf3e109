"""Model execution without HTTP: engines (ONNX Runtime, TorchScript), the registry, the batcher."""
