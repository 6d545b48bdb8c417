// Moved to src/lab/scenario.ts, shared with `orderflow chaos`; kept so tests written against this path still run. New code imports #lab/scenario.ts.
export * from '#lab/scenario.ts';
