"""The /edit a user would write in 40 lines (the peer baseline of bench_peers.py).

Pillow decode, centre square, one InferenceSession.run for the encoder and one for the
decoder, ``z + delta * w / |w|``, PNG. No limits, no batching, no metrics. Settings come from
the environment: PEER_MODEL_DIR (an exported model folder), PEER_THREADS (ORT intra-op
threads). ``uvicorn naive_app:app`` (from benchmarks/peers/).
"""

import io
import json
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, File, Response, UploadFile
from PIL import Image

folder = os.environ["PEER_MODEL_DIR"]
options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("PEER_THREADS", "1"))
providers = ["CPUExecutionProvider"]
encoder = ort.InferenceSession(f"{folder}/encoder.onnx", options, providers=providers)
decoder = ort.InferenceSession(f"{folder}/decoder.onnx", options, providers=providers)
manifest = json.load(open(f"{folder}/manifest.json"))
size = manifest["image_size"]
weights = {a["name"]: np.asarray(a["weight"], dtype=np.float32) for a in manifest["attributes"]}
app = FastAPI()


@app.post("/edit")
async def edit(attribute: str, delta: float, image: UploadFile = File(...)) -> Response:
    picture = Image.open(io.BytesIO(await image.read())).convert("RGB")
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    x = (np.asarray(picture, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]
    mean, _ = encoder.run(None, {"image": x})
    w = weights[attribute]
    z = mean + delta * w / np.linalg.norm(w)
    (out,) = decoder.run(None, {"z": z.astype(np.float32)})
    pixels = (np.clip(out[0], 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return Response(buffer.getvalue(), media_type="image/png")
