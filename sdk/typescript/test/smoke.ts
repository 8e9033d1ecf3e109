// End-to-end check of the generated client against a live server (run by tests/sdk/test_typescript_sdk.py):
//   INTROVAC_URL=http://127.0.0.1:8000 [INTROVAC_API_KEY=...] FACE=face.png node build/test/smoke.js
// Covers what broke before: the upload must go out as a real multipart file (not a string),
// repeated query parameters must be repeated, PNG answers must be bytes and errors the JSON ErrorBody.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { createClient, edit, editJson, generate, generateJson, listModels, type ErrorBody } from '../src/index.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function env(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
}

async function assertPng(blob: Blob): Promise<void> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 8)], PNG_SIGNATURE, 'not a PNG');
}

async function main(): Promise<void> {
  const key = process.env.INTROVAC_API_KEY;
  const client = createClient({ baseUrl: env('INTROVAC_URL'), auth: key });
  const image = new Blob([readFileSync(env('FACE'))], { type: 'image/png' });

  // Upload as multipart, PNG answer as a Blob.
  const edited = await edit({ client, body: { image }, query: { attribute: ['eyeglasses'], delta: [3] } });
  assert.equal(edited.response.status, 200, JSON.stringify(edited.error));
  assert.ok(edited.data instanceof Blob);
  await assertPng(edited.data);
  assert.equal(edited.response.headers.get('x-delta-used'), 'eyeglasses=3');

  // Repeated query parameters, number and "auto" deltas mixed, JSON answer typed as EditResponse.
  const both = await editJson({
    client,
    body: { image },
    query: { attribute: ['eyeglasses', 'facial_hair'], delta: [3, 'auto'], target: 0.2 },
  });
  assert.equal(both.response.status, 200, JSON.stringify(both.error));
  assert.ok(both.data);
  assert.deepEqual(Object.keys(both.data.deltas).sort(), ['eyeglasses', 'facial_hair']);
  assert.equal(both.data.deltas.eyeglasses, 3);

  // GET with repeated parameters: attribute=a&attribute=b reaches the server as two values.
  const query = { attribute: ['eyeglasses', 'facial_hair'], n: 2, seed: 1, method: 'exact' as const, prior: 'standard' as const };
  const samples = await generateJson({ client, query });
  assert.equal(samples.response.status, 200, JSON.stringify(samples.error));
  assert.ok(samples.data);
  assert.equal(samples.data.samples.length, 2);
  assert.equal(samples.data.prior, 'standard');
  assert.deepEqual(Object.keys(samples.data.samples[0].probabilities).sort(), ['eyeglasses', 'facial_hair']);
  const unknown = await generate({ client, query: { attribute: ['eyeglasses', 'wings'] } });
  assert.equal(unknown.response.status, 422);
  assert.deepEqual((unknown.error?.error.details as { unknown: string[] }).unknown, ['wings']); // 2nd value arrived
  const png = await generate({ client, query: { ...query, n: 1 } });
  assert.equal(png.response.status, 200, JSON.stringify(png.error));
  assert.ok(png.data instanceof Blob);
  await assertPng(png.data);

  // Errors: the JSON ErrorBody, typed, with the API's code; the second repeated value is the unknown one.
  const refused = await edit({ client, body: { image }, query: { attribute: ['eyeglasses', 'wings'] } });
  assert.equal(refused.response.status, 422);
  const error: ErrorBody | undefined = refused.error;
  assert.equal(error?.error.code, 'unknown_attribute');
  assert.deepEqual((error?.error.details as { unknown: string[] }).unknown, ['wings']);

  if (key) {
    const anonymous = await listModels({ client: createClient({ baseUrl: env('INTROVAC_URL') }) });
    assert.equal(anonymous.response.status, 401);
    assert.equal(anonymous.error?.error.code, 'unauthorized');
  }
  const models = await listModels({ client });
  assert.equal(models.data?.default, 'tiny');
  console.log('typescript smoke: ok');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
