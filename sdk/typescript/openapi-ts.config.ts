// @hey-api/openapi-ts configuration: sdk/openapi.json -> src/client/ (fetch client, types, SDK functions).
// Run through `make sdk` (sdk/generate.py), which points INTROVAC_OPENAPI / INTROVAC_TS_OUTPUT elsewhere
// to check that the committed client is up to date.
import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: process.env.INTROVAC_OPENAPI ?? '../openapi.json',
  output: {
    path: process.env.INTROVAC_TS_OUTPUT ?? 'src/client',
    // ESM under NodeNext resolution (tsconfig.json) needs explicit `.js` specifiers.
    module: { extension: '.js' },
  },
  plugins: [
    '@hey-api/client-fetch',
    // Operation results are `<Op>Result` (e.g. EditResult = Blob, EditJsonResult = EditResponse) so they
    // never clash with the API's own schema names (EditResponse, EncodeResponse, ...).
    { name: '@hey-api/typescript', responses: { response: '{{name}}Result' } },
    '@hey-api/sdk',
  ],
});
