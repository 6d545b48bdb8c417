// Loaded with --import into every process `orderflow up` starts, so no service can outlive
// the supervisor even if its main forgets to ask for it.
import { exitWithParent } from '../platform/service/parent-watch.ts';

exitWithParent();
