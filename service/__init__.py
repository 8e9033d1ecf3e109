"""IntroVAC inference service. Never imports torch on the ONNX path, never imports training."""
