// HTTP load from autocannon that either measures something or fails: warm-up requests first
// (the first ones compile a module, fill caches, start batches), then the measured run; both
// throw on errors, non-2xx answers, timeouts or no completed request at all. An earlier main
// read 0 req/s for the attested uncached figure in two rounds of three, and a one-second run
// on a fresh node here completed none of its first ten requests: the first answers take over a
// second, and autocannon's per-second mean of a run that short is 0.
import autocannon from 'autocannon';

export interface LoadOptions {
  connections: number;
  seconds: number;
  /** Rewrites each request (a new parameter per request, for uncached figures). */
  setupRequest?: (req: any) => any;
  /** Unmeasured requests per connection before the measured run (default 20; 0 for none). */
  warmUp?: number;
}

/** Completed requests per second over the measured run, after the warm-up. */
export async function loadRate(url: string, options: LoadOptions): Promise<number> {
  const perConnection = options.warmUp ?? 20;
  // A count, not a duration: every warm-up request completes (the first may take seconds, a
  // module compiled or a batch made durable) and none is left in flight into the measured run.
  if (perConnection > 0) await run(url, options, 'warm-up', { amount: perConnection * options.connections, timeout: 120 });
  return run(url, options, 'measured run', { duration: options.seconds });
}

async function run(url: string, options: LoadOptions, what: string, length: { duration: number } | { amount: number; timeout: number }): Promise<number> {
  const result = await autocannon({
    url,
    connections: options.connections,
    ...length,
    requests: options.setupRequest ? [{ setupRequest: options.setupRequest }] : undefined,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${url} (${what}): ${bad} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}); a figure from failed requests would not measure the route`);
  const completed = result.requests.total;
  if (!(completed > 0)) throw new Error(`${url} (${what}): no request completed in ${result.duration}s (${result.requests.sent} sent); refusing to report 0 req/s — lengthen BENCH_SECONDS or look at the node's latency`);
  // Completed over elapsed, not autocannon's mean of per-second samples, which reads 0 when a run is shorter than its first sample.
  return completed / result.duration;
}
