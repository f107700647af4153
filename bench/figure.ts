// What a benchmark figure is: a value beside its baseline from the same run, with a stable id
// and, where the issue sets one, a target; and the ratio the table, JSON and chart show.

export interface Figure {
  /**
   * Stable across runs and machines, so runs compare: set where the figure is made (the issue's
   * names — process-eval, schedule-1, dispute, … — where it names one), checked unique.
   */
  id: string;
  name: string;
  value: number;
  unit: string;
  baselineName: string;
  baseline: number;
  /** 'higher' when more is better (throughput), 'lower' for times. */
  better: 'higher' | 'lower';
  /** A target (a ratio, value / baseline, like '≥ 0.8×', or an absolute one like '≤ 300 MB'). */
  target?: string;
  /** The target as a ratio, for the chart, where `target` is not itself one ('≤ 300 MB' over the baseline). */
  targetRatio?: number;
  /** Counts that explain the figure (executions, signature checks, …), kept in the JSON. */
  details?: Record<string, number>;
}

export const ratio = (f: Figure) => f.value / f.baseline;

/** The target as a ratio: `targetRatio`, else the number in a target like '≥ 0.8×'. */
export function targetRatioOf(f: Figure): number | undefined {
  if (f.targetRatio !== undefined) return f.targetRatio;
  const match = f.target?.match(/([0-9.]+)\s*×/);
  return match ? Number(match[1]) : undefined;
}
