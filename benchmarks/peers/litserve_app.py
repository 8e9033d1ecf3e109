"""LitServe peer of bench_peers.py: the same /edit with LitServe's own dynamic batching.

The same ONNX sessions and math as naive_app.py, inside a ``ls.LitAPI`` with
``max_batch_size`` > 1 so LitServe stacks concurrent requests into one ``predict``.
LitServe runs its inference loop in a worker process and the HTTP server in the main
process (``api_server_worker_type="thread"`` keeps the HTTP side in one process).
Environment: PEER_MODEL_DIR, PEER_THREADS, PEER_PORT, PEER_MAX_BATCH (16), PEER_BATCH_TIMEOUT
(seconds, 0: take what is queued, like the service's default). The form carries
``image``, ``attribute`` and ``delta`` (LitServe hands decode_request the form, not the query).
"""

import io
import json
import os

import litserve as ls
import numpy as np
from fastapi import Request, Response
from PIL import Image


class EditAPI(ls.LitAPI):
    def setup(self, device):
        import onnxruntime as ort

        folder = os.environ["PEER_MODEL_DIR"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("PEER_THREADS", "1"))
        self.encoder = ort.InferenceSession(f"{folder}/encoder.onnx", options, providers=["CPUExecutionProvider"])
        self.decoder = ort.InferenceSession(f"{folder}/decoder.onnx", options, providers=["CPUExecutionProvider"])
        manifest = json.load(open(f"{folder}/manifest.json"))
        self.size = manifest["image_size"]
        self.weights = {a["name"]: np.asarray(a["weight"], dtype=np.float32) for a in manifest["attributes"]}

    def decode_request(self, request: Request):
        picture = Image.open(io.BytesIO(request["image"].file.read())).convert("RGB")
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side))
        picture = picture.resize((self.size, self.size), Image.Resampling.LANCZOS)
        w = self.weights[request["attribute"]]
        shift = float(request["delta"]) * w / np.linalg.norm(w)
        return (np.asarray(picture, dtype=np.float32) / 255.0).transpose(2, 0, 1), shift

    def batch(self, inputs):
        return np.stack([x for x, _ in inputs]), np.stack([s for _, s in inputs])

    def predict(self, batch):
        images, shifts = batch
        mean, _ = self.encoder.run(None, {"image": images})
        (out,) = self.decoder.run(None, {"z": (mean + shifts).astype(np.float32)})
        return out

    def unbatch(self, output):
        return list(output)

    def encode_response(self, output):
        pixels = (np.clip(output, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")


if __name__ == "__main__":
    api = EditAPI(
        max_batch_size=int(os.environ.get("PEER_MAX_BATCH", "16")),
        batch_timeout=float(os.environ.get("PEER_BATCH_TIMEOUT", "0")),
        api_path="/edit",
    )
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1)
    server.run(
        host="127.0.0.1",
        port=int(os.environ["PEER_PORT"]),
        num_api_servers=1,
        api_server_worker_type="thread",
        generate_client_file=False,
        log_level="warning",
    )
