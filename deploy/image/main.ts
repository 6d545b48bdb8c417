// The image's commands, for `npm run deploy:check` and by hand:
//   node deploy/image/main.ts base                  make localhost/orderflow-base:node24 unless it exists
//   node deploy/image/main.ts build [--tag dev] [--base REF | --local-base]
// `build` prints ORDERFLOW_IMAGE=<ref> on stdout (progress goes to stderr), for the container tests.
import { parseArgs } from 'node:util';
import { isOrderflowError } from '#platform/errors.ts';
import { ensureBase } from './base.ts';
import { buildImage, buildOnLocalBase } from './build.ts';
import { loadImageConfig } from './config.ts';

const USAGE = 'usage: node deploy/image/main.ts base | build [--tag dev] [--base <image> | --local-base]';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { tag: { type: 'string' }, base: { type: 'string' }, 'local-base': { type: 'boolean' } } });
  const config = loadImageConfig();
  const dir = config.infraDir;
  const say = (line: string) => void process.stderr.write(`${line}\n`);
  switch (positionals[0]) {
    case 'base':
      process.stdout.write(`ORDERFLOW_BASE_IMAGE=${await ensureBase({ infraDir: dir, say })}\n`);
      return 0;
    case 'build': {
      const build = { infraDir: dir, tag: values.tag ?? 'dev', extraCaCerts: config.extraCaCerts, say };
      const built = values['local-base'] ? await buildOnLocalBase(build) : await buildImage({ ...build, base: values.base });
      say(`image: ${built.ref}, ${(built.sizeBytes / 1e6).toFixed(0)} MB, built in ${built.buildSeconds} s`);
      process.stdout.write(`ORDERFLOW_IMAGE=${built.ref}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (!isOrderflowError(err)) throw err;
  process.stderr.write(`deploy/image: ${err.message} [${err.code}]\n`);
  process.exitCode = 1;
}
