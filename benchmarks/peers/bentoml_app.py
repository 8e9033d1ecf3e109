"""BentoML peer of bench_peers.py: the same /edit with BentoML's adaptive batching.

The same ONNX sessions and math as naive_app.py. A batchable BentoML API takes one argument,
so, as BentoML's guide for several parameters does, a wrapper service (``EditService``:
multipart form with ``image``, ``attribute``, ``delta``; decode, centre square, PNG) calls the
batchable ``Model.edit`` (one row per request: the pixels followed by the latent shift) through
``bentoml.depends``; BentoML runs each service in its own worker process. Environment:
PEER_MODEL_DIR, PEER_THREADS, PEER_MAX_BATCH (16). ``bentoml serve bentoml_app:EditService``
(from benchmarks/peers/, with the environment of ``make bentoml-peer``).
"""

import json
import os

import bentoml
import numpy as np
from PIL import Image

FOLDER = os.environ["PEER_MODEL_DIR"]
MANIFEST = json.load(open(f"{FOLDER}/manifest.json"))
SIZE = MANIFEST["image_size"]
PIXELS = 3 * SIZE * SIZE
# One worker each, no access log (like the other servers). BentoML's client between the two
# services closes its connection after 100 requests by default, and a call racing that close
# fails ("Server disconnected", a 500 under 16 clients): keep the connections.
SERVICE_CONFIG = {
    "workers": 1,
    "logging": {"access": {"enabled": False}},
    "runner_connection": {"max_requests": 10**9, "max_age": 1e9},
}


@bentoml.service(**SERVICE_CONFIG)
class Model:
    def __init__(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("PEER_THREADS", "1"))
        self.encoder = ort.InferenceSession(f"{FOLDER}/encoder.onnx", options, providers=["CPUExecutionProvider"])
        self.decoder = ort.InferenceSession(f"{FOLDER}/decoder.onnx", options, providers=["CPUExecutionProvider"])

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=int(os.environ.get("PEER_MAX_BATCH", "16")))
    def edit(self, rows: np.ndarray) -> np.ndarray:
        images = rows[:, :PIXELS].reshape(-1, 3, SIZE, SIZE)
        mean, _ = self.encoder.run(None, {"image": images})
        (out,) = self.decoder.run(None, {"z": (mean + rows[:, PIXELS:]).astype(np.float32)})
        return out


@bentoml.service(**SERVICE_CONFIG)
class EditService:
    model = bentoml.depends(Model)

    def __init__(self) -> None:
        self.weights = {a["name"]: np.asarray(a["weight"], dtype=np.float32) for a in MANIFEST["attributes"]}

    @bentoml.api(route="/edit")
    async def edit(self, image: Image.Image, attribute: str, delta: float) -> Image.Image:
        picture = image.convert("RGB")
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        x = (np.asarray(picture, dtype=np.float32) / 255.0).transpose(2, 0, 1).reshape(-1)
        w = self.weights[attribute]
        row = np.concatenate([x, delta * w / np.linalg.norm(w)]).astype(np.float32)[None]
        out = (await self.model.to_async.edit(row))[0]
        pixels = (np.clip(out, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
        return Image.fromarray(pixels)
