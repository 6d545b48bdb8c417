// Runs the infra commands without the main cli: node src/runtime/infra/main.ts kafka start
import { infraCommand } from './cli.ts';

process.exitCode = await infraCommand(process.argv.slice(2));
