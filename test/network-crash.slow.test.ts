// The long version of test/network-crash.test.ts (issue 12, scenario 4): more SIGKILL rounds of
// each node, fewer transfers per burst, and a wait until nothing at all is pending, so every
// Debit-Notice to the owner is settled as an account too (this runs for a few minutes).
// Settings already in the environment win.
process.env.NETCRASH_ROUNDS ??= '8';
process.env.NETCRASH_PAUSE_MS ??= '250';
process.env.NETCRASH_DRAIN ??= '1';
await import('./network-crash.test.ts');
