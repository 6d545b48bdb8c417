// Moved to src/lab/invariants.ts, shared with `orderflow chaos`; kept so tests written against this path still run. New code imports #lab/invariants.ts.
export * from '#lab/invariants.ts';
