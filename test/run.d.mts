// Types for the harness's one export, used by test/harness.test.ts.
export function tally(output: string, code: number): { passed: number; failed: number; skipped: number };
