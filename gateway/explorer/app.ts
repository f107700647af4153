// The explorer page (served by gateway/explorer/index.ts, bundled by esbuild): preact + htm, so
// the page is plain TypeScript with no JSX step, and uPlot for the charts, small enough to ship
// from the node itself. It polls the node's read-only /~explorer/ routes to show the network,
// this node and its attestations; the answer check runs in this page only
// (gateway/explorer/verify.ts), so what it says does not depend on trusting this node.
/// <reference lib="dom" />
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { checkPasted, fromB64url, readPasted, type Check } from './verify.ts';

const POLL_MS = 5_000;

type Json = any; // what the node's JSON routes answer: read defensively, shown as text

async function getJson(path: string): Promise<Json> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** Polls a route; keeps the last good answer while a poll fails. */
function usePoll(path: string): { data: Json; error?: string } {
  const [state, setState] = useState<{ data: Json; error?: string }>({ data: undefined });
  useEffect(() => {
    let stopped = false;
    const poll = () =>
      getJson(path).then(
        (data) => !stopped && setState({ data }),
        (error) => !stopped && setState((s) => ({ data: s.data, error: (error as Error).message })),
      );
    void poll();
    const timer = setInterval(poll, POLL_MS);
    return () => ((stopped = true), clearInterval(timer));
  }, [path]);
  return state;
}

const short = (id: unknown) => (typeof id === 'string' && id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : String(id ?? ''));
const ago = (ms: number) => (ms < 0 ? 'just now' : ms < 90_000 ? `${Math.round(ms / 1000)} s ago` : ms < 5_400_000 ? `${Math.round(ms / 60_000)} min ago` : `${Math.round(ms / 3_600_000)} h ago`);
const percent = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : '–');
const number = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en') : '–');

function gpuText(gpu: Json): string {
  if (!gpu || gpu === 'cpu') return 'CPU only';
  return `${gpu.vendor ?? ''} ${gpu.device || gpu.description || ''} (${gpu.source ?? '?'})`.trim();
}

function App() {
  const overview = usePoll('/~explorer/overview');
  const attestations = usePoll('/~explorer/attestations?limit=20');
  const stats = usePoll('/~explorer/stats');
  const [pasted, setPasted] = useState('');
  const node = overview.data?.node;
  return html`
    <header>
      <h1>hyperwasm explorer</h1>
      <p class="muted">${node ? html`node <code title=${node.address}>${node.address}</code> · ${node.engine}` : 'loading…'}
        ${overview.error ? html` · <span class="bad">${overview.error}</span>` : ''}</p>
    </header>
    <${Network} data=${overview.data?.network} />
    <${ThisNode} node=${node} here=${overview.data?.here} />
    <${Attestations} data=${attestations.data} onCheck=${(a: Json) => setPasted(JSON.stringify(a, null, 2))} />
    <${Charts} data=${stats.data} />
    <${Checker} text=${pasted} setText=${setPasted} />
  `;
}

function Network({ data }: { data: Json }) {
  const registries: Json[] = data?.registries ?? [];
  return html`
    <section id="network">
      <h2>Network</h2>
      ${registries.length === 0 ? html`<p class="muted">This node is no registry and joined none: start it with --registry or --join.</p>` : ''}
      ${registries.map((r) => html`
        <div class="registry">
          <p>Registry ${r.url === 'this node' ? 'on this node' : html`<code>${r.url}</code>`}${r.registry ? html` (<code title=${r.registry}>${short(r.registry)}</code>)` : ''}:
            ${r.nodes.length} node(s)${r.error ? html` · <span class="bad">${r.error}</span>` : ''}</p>
          <table>
            <thead><tr><th>node</th><th>url</th><th>state</th><th>GPU</th><th>cores</th><th>gas/s</th><th>price (flat / per kgas)</th><th>uptime 24 h / 7 d</th><th>reputation</th><th>last heartbeat</th></tr></thead>
            <tbody>
              ${r.nodes.map((n: Json) => html`
                <tr data-address=${n.address} data-state=${n.state}>
                  <td><code title=${n.address}>${short(n.address)}</code></td>
                  <td>${n.url}</td>
                  <td><span class=${`state ${String(n.state).toLowerCase()}`}>${n.state}</span>${n['announced-state'] !== n.state ? html` <span class="muted">(said ${n['announced-state']})</span>` : ''}</td>
                  <td>${gpuText(n.gpu)}</td>
                  <td>${n.cores}</td>
                  <td>${number(n['gas-per-second'])}</td>
                  <td>${n.prices?.flat} / ${n.prices?.['per-kgas']}</td>
                  <td>${percent(n.uptime?.['24h'])} / ${percent(n.uptime?.['7d'])}</td>
                  <td>${typeof n.reputation === 'number' ? n.reputation.toFixed(3) : '–'}${n.refuted ? html` <span class="bad">refuted</span>` : ''}${typeof n.confirmed === 'number' ? html` <span class="muted">(${n.confirmed} confirmed${n.refutations ? `, ${n.refutations} refuted` : ''})</span>` : ''}</td>
                  <td>${typeof r.time === 'number' ? ago(r.time - n['last-heartbeat']) : new Date(n['last-heartbeat']).toISOString()} <span class="muted">#${n.heartbeats}</span></td>
                </tr>`)}
            </tbody>
          </table>
        </div>`)}
    </section>`;
}

function ThisNode({ node, here }: { node: Json; here: Json }) {
  if (!node || !here) return html`<section id="node"><h2>This node</h2><p class="muted">loading…</p></section>`;
  const names = new Map(Object.entries(node.modules ?? {}).map(([name, id]) => [id, name]));
  return html`
    <section id="node">
      <h2>This node</h2>
      <dl class="figures">
        <div><dt>gas served</dt><dd id="gas-served">${number(here.gas)}</dd></div>
        <div><dt>requests</dt><dd>${number(here.requests)}</dd></div>
        <div><dt>cache hits / misses</dt><dd>${here.cache.hits} / ${here.cache.misses}</dd></div>
        <div><dt>outbox (to Arweave)</dt><dd>${node.outbox?.depth ?? '–'} waiting · ${node.outbox?.bundles ?? 0} bundles${node.outbox?.lastError ? html` · <span class="bad">${node.outbox.lastError}</span>` : ''}</dd></div>
        <div><dt>deliveries</dt><dd>${node.deliveries?.pending ?? 0} pending · ${node.deliveries?.delivered ?? 0} delivered · ${node.deliveries?.failures ?? 0} failures</dd></div>
        <div><dt>kernels</dt><dd>${gpuText(node.gpu?.backend === 'gpu' ? node.gpu : 'cpu')}</dd></div>
        <div><dt>heartbeat</dt><dd>${here.heartbeat ? `${here.heartbeat.state}, ${ago(Date.now() - here.heartbeat.time)}` : 'none sent'}</dd></div>
      </dl>
      <h3>Modules</h3>
      <table id="modules">
        <thead><tr><th>module</th><th>name</th></tr></thead>
        <tbody>${here.modules.map((m: Json) => html`<tr data-id=${m.id}><td><code>${m.id}</code></td><td>${m.name ?? names.get(m.id) ?? ''}</td></tr>`)}</tbody>
      </table>
      <h3>Processes</h3>
      ${here.processes.length === 0 ? html`<p class="muted">none scheduled here</p>` : html`
      <table id="processes">
        <thead><tr><th>process</th><th>module</th><th>latest slot</th><th>computed to</th><th>outbox</th></tr></thead>
        <tbody>${here.processes.map((p: Json) => html`
          <tr data-id=${p.id} data-slot=${p.slot}>
            <td><code title=${p.id}>${short(p.id)}</code></td><td><code title=${p.module}>${names.get(p.module) ?? short(p.module)}</code></td>
            <td class="slot">${p.slot}</td><td>${p.computed ?? '–'}</td>
            <td>${Object.entries(p.outbox).map(([status, n]) => `${n} ${status}`).join(', ') || '–'}</td>
          </tr>`)}</tbody>
      </table>`}
    </section>`;
}

function Attestations({ data, onCheck }: { data: Json; onCheck: (a: Json) => void }) {
  const list: Json[] = data?.attestations ?? [];
  return html`
    <section id="attestations">
      <h2>Recent attestations</h2>
      ${list.length === 0 ? html`<p class="muted">none signed yet</p>` : html`
      <table>
        <thead><tr><th>attestation</th><th>leaf</th><th>what</th><th>gas</th><th>signed</th><th>verification</th><th></th></tr></thead>
        <tbody>${list.map(({ attestation: a, 'signed-at': at, verification: v }) => html`
          <tr data-id=${a.id} data-index=${a.index} data-status=${v.status}>
            <td><code title=${a.id}>${short(a.id)}</code></td>
            <td>${a.index + 1} / ${a.count}</td>
            <td>${a.statement.kind === 'process' ? `process ${short(a.statement.process)} slot ${a.statement.slot}` : a.statement.kind === 'compute' ? `${a.statement.request?.['wasm-function']}(${JSON.stringify(a.statement.request?.['wasm-params'] ?? [])})` : a.statement.kind}</td>
            <td>${number(Number(a.statement.gas))}</td>
            <td>${ago(Date.now() - at)}</td>
            <td><span class=${`status ${v.status.replace(/ /g, '-')}`} title=${v.by ? `by ${v.by.join(', ')}` : ''}>${v.status}</span></td>
            <td><button class="small" onClick=${() => onCheck({ attestation: a })}>check</button></td>
          </tr>`)}</tbody>
      </table>`}
    </section>`;
}

/** Rates between consecutive samples: what happened per second. */
function rates(samples: Json[], field: string): [number[], number[]] {
  const times: number[] = [];
  const values: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].time - samples[i - 1].time) / 1000;
    if (dt <= 0) continue;
    times.push(samples[i].time / 1000);
    values.push(Math.max(0, (samples[i][field] - samples[i - 1][field]) / dt));
  }
  return [times, values];
}

function Charts({ data }: { data: Json }) {
  const samples: Json[] = data?.samples ?? [];
  return html`
    <section id="charts">
      <h2>Over time</h2>
      <div class="charts">
        <${Chart} id="chart-requests" title="requests / s" series=${rates(samples, 'requests')} />
        <${Chart} id="chart-gas" title="gas / s" series=${rates(samples, 'gas')} />
        <${Chart} id="chart-heartbeats" title="heartbeats (total)" series=${[samples.map((s) => s.time / 1000), samples.map((s) => s.heartbeats)]} />
      </div>
    </section>`;
}

function Chart({ id, title, series }: { id: string; title: string; series: [number[], number[]] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    plot.current = new uPlot(
      { title, width: 360, height: 180, scales: { x: { time: true } }, series: [{}, { label: title, stroke: '#2563eb', fill: 'rgba(37,99,235,0.1)' }], legend: { show: false } },
      [[], []],
      box.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => plot.current?.setData(series), [series]);
  return html`<div class="chart" id=${id} ref=${box} data-points=${series[0].length}></div>`;
}

function Checker({ text, setText }: { text: string; setText: (t: string) => void }) {
  const [checks, setChecks] = useState<Check[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setChecks(undefined);
    setError(undefined);
    try {
      const pasted = readPasted(text);
      setChecks(checkPasted(pasted, await itemBytes(pasted.item, pasted.attestation.id)));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const verdict = !checks ? undefined : checks.some((c) => c.ok === false) ? 'invalid' : checks.every((c) => c.ok === true) ? 'valid' : 'incomplete';
  return html`
    <section id="checker">
      <h2>Check an answer in this browser</h2>
      <p class="muted">Paste what a Compute GET answered (the record with its <code>attestation</code>), or an attestation alone. The signature,
        the Merkle proof, the statement and the result hash are recomputed here (ed25519 and SHA-256 in this page); the attestation item's
        bytes are taken from the paste (<code>attestation-item</code>) or fetched by ID and must hash to that ID, so this node cannot change what they say.</p>
      <textarea id="paste" rows="10" spellcheck="false" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
      <p><button id="check" disabled=${busy} onClick=${run}>Check</button></p>
      ${error ? html`<p id="verdict" class="bad" data-verdict="error">${error}</p>` : ''}
      ${verdict ? html`<p id="verdict" data-verdict=${verdict} class=${verdict === 'valid' ? 'good' : 'bad'}>${verdict === 'valid' ? 'Valid: every check passed' : verdict === 'invalid' ? 'INVALID: a check failed' : 'Incomplete: some checks could not be made'}</p>` : ''}
      ${checks ? html`<ul id="checks">${checks.map((c) => html`
        <li data-check=${c.name} data-ok=${String(c.ok)} class=${c.ok === true ? 'good' : c.ok === false ? 'bad' : 'muted'}>
          <strong>${c.ok === true ? '✔ pass' : c.ok === false ? '✘ FAIL' : '– not checked'}</strong> ${c.name}: ${c.detail}
        </li>`)}</ul>` : ''}
    </section>`;
}

/** The attestation item's bytes: pasted, else asked of this node by ID (verify.ts checks them against the ID). */
async function itemBytes(pasted: string | undefined, id: string): Promise<Uint8Array | undefined> {
  if (pasted) return fromB64url(pasted);
  const response = await fetch(`/~explorer/item/${encodeURIComponent(id)}`);
  if (!response.ok) return undefined;
  const body = await response.json();
  return typeof body.item === 'string' ? fromB64url(body.item) : undefined;
}

render(html`<${App} />`, document.getElementById('app')!);
