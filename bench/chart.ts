// The figures as a chart (bench/results/latest.svg, linked from README): one bar per figure,
// its ratio to the baseline on a log scale (ratios run from 0.001× to 10×), a line at 1.0× and
// a tick at the target where there is one. Hand-written SVG, so the bench needs no dependency.
import { ratio, targetRatioOf, type Figure } from './figure.ts';

const LABEL = 330;
const PLOT = 460;
const RIGHT = 150;
const ROW = 22;
const TOP = 54;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toPrecision(3));

/** Whether the figure meets its target (undefined without one): the direction follows `better`. */
function meets(f: Figure): boolean | undefined {
  const goal = targetRatioOf(f);
  if (goal === undefined) return undefined;
  return f.better === 'higher' ? ratio(f) >= goal : ratio(f) <= goal;
}

export function chartSvg(figures: Figure[], title: string): string {
  const ratios = figures.map(ratio).filter((r) => r > 0);
  const goals = figures.map(targetRatioOf).filter((g): g is number => g !== undefined);
  const low = 10 ** Math.floor(Math.log10(Math.min(0.1, ...ratios, ...goals)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(2, ...ratios, ...goals)));
  const x = (r: number) => LABEL + (PLOT * (Math.log10(Math.max(r, low)) - Math.log10(low))) / (Math.log10(high) - Math.log10(low));
  const width = LABEL + PLOT + RIGHT;
  const height = TOP + figures.length * ROW + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="8" y="18" font-size="13" font-weight="bold">${escape(title)}</text>`);
  out.push(`<text x="8" y="36" fill="#555">each figure ÷ its baseline from the same run (log scale); green meets its target (tick), red misses it, grey has none; ↑ higher is better, ↓ lower</text>`);
  const bottom = TOP + figures.length * ROW;
  for (let decade = low; decade <= high * 1.0001; decade *= 10) {
    const at = x(decade).toFixed(1);
    out.push(`<line x1="${at}" y1="${TOP - 6}" x2="${at}" y2="${bottom}" stroke="${Math.abs(decade - 1) < 1e-9 ? '#000' : '#ddd'}" stroke-width="${Math.abs(decade - 1) < 1e-9 ? 1.5 : 1}"/>`);
    out.push(`<text x="${at}" y="${bottom + 14}" text-anchor="middle" fill="#555">${decade >= 1 ? decade.toFixed(0) : decade.toPrecision(1)}×</text>`);
  }
  figures.forEach((f, i) => {
    const y = TOP + i * ROW;
    const r = ratio(f);
    const ok = meets(f);
    const colour = ok === undefined ? '#999' : ok ? '#2a9d4b' : '#d1453b';
    const from = x(Math.min(1, r));
    const to = x(Math.max(1, r));
    out.push(`<g><title>${escape(`${f.name}: ${fmt(f.value)} ${f.unit}; ${f.baselineName}: ${fmt(f.baseline)} ${f.unit}`)}</title>`);
    out.push(`<text x="${LABEL - 8}" y="${y + 14}" text-anchor="end">${escape(f.id)} ${f.better === 'higher' ? '↑' : '↓'}</text>`);
    out.push(`<rect x="${from.toFixed(1)}" y="${y + 4}" width="${Math.max(1, to - from).toFixed(1)}" height="${ROW - 8}" fill="${colour}"/>`);
    const goal = targetRatioOf(f);
    if (goal !== undefined) out.push(`<line x1="${x(goal).toFixed(1)}" y1="${y + 1}" x2="${x(goal).toFixed(1)}" y2="${y + ROW - 1}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`);
    out.push(`<text x="${LABEL + PLOT + 8}" y="${y + 14}">${r.toPrecision(2)}×${f.target ? ` (${escape(f.target)})` : ''}</text></g>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
