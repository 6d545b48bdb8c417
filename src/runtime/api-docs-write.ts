// npm run api-docs: writes docs/asyncapi.json from the contracts and docs/openapi.json from the gateway's routes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASYNCAPI_PATH, asyncApiDocument } from '#contracts/asyncapi.ts';
import { OPENAPI_PATH, openApiDocument } from '#services/gateway/openapi-document.ts';

const root = join(import.meta.dirname, '..', '..');
writeFileSync(join(root, ASYNCAPI_PATH), JSON.stringify(asyncApiDocument(), null, 2) + '\n');
writeFileSync(join(root, OPENAPI_PATH), JSON.stringify(await openApiDocument(), null, 2) + '\n');
console.log(`${ASYNCAPI_PATH}\n${OPENAPI_PATH}`);
