// This node reaching a registry over HTTP (docs/PROTOCOL.md §27, §29): the ports
// engine/heartbeats.ts and engine/verifier.ts are given, beside delivery-routes.ts and
// peer-locations.ts, the node's other network effects. A refusal comes back as the registry's own
// message on one line, so the node's log says why.
import type { HeartbeatTarget } from '../engine/heartbeats.ts';
import type { ReportTarget } from '../engine/verifier.ts';

/** POSTs a signed item to `url`; throws with the answer's message (at most `width` characters) unless it is 2xx. */
async function postItem(url: string, raw: Uint8Array, timeoutMs: number, width: number): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    body: raw as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': 'application/octet-stream' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (response.ok) return;
  let message = text;
  try {
    message = JSON.parse(text).message ?? text;
  } catch {
    // not JSON: the text itself
  }
  throw new Error(`HTTP ${response.status}: ${message.replace(/\s+/g, ' ').slice(0, width)}`);
}

/** A registry that takes this node's heartbeats. */
export function httpHeartbeatTarget(base: string): HeartbeatTarget {
  return { name: base, send: (raw, timeoutMs) => postItem(`${base}/~registry@1.0/heartbeat`, raw, timeoutMs, 200) };
}

/** A registry that takes verification reports; a refutation waits on its own replay, so the timeout is generous. */
export function httpReportTarget(base: string, timeoutMs = 60_000): ReportTarget {
  return { name: base, send: (raw) => postItem(`${base}/~registry@1.0/report`, raw, timeoutMs, 300) };
}

/** The addresses a registry lists. */
export function httpRegistryNodes(base: string, timeoutMs = 10_000): () => Promise<string[]> {
  return async () => {
    const response = await fetch(`${base}/~registry@1.0/nodes`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`${base} answered ${response.status} for its node list`);
    const body = (await response.json()) as { nodes?: { address?: unknown }[] };
    return (body.nodes ?? []).map((n) => n.address).filter((a): a is string => typeof a === 'string');
  };
}
