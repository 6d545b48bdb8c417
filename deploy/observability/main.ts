// npm run dashboards: writes the consoles and Grafana dashboards drawn from panels.ts.
import { write } from './generate.ts';

for (const path of write()) console.log(path);
