// npm run api-docs: writes docs/asyncapi.json from the contracts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASYNCAPI_PATH, asyncApiDocument } from './asyncapi.ts';

const root = join(import.meta.dirname, '..', '..');
writeFileSync(join(root, ASYNCAPI_PATH), JSON.stringify(asyncApiDocument(), null, 2) + '\n');
console.log(ASYNCAPI_PATH);
