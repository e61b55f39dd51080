/*
 * What a chaos run found, and how it is printed: faults injected per kind, recovery times per
 * kind (median, p95, max), violations per invariant with a few examples each.
 */

export const INVARIANTS = {
  silenced: "a muted or removed member's media reaches nobody (1 s after the acknowledgement)",
  removedDeaf: 'a removed member receives nothing (1 s after the acknowledgement)',
  oneHome: 'one home forwards a room\'s media (no other node more than 5 s + 1 s after the home changed)',
  seats: 'no seat is lost before its grace period ends',
  endings: 'every ending (session end, removal) reaches every page and member',
  videoAgain: 'every page and member receives video again within 10 s of a fault clearing',
  homeKept: 'no room changes home after a Redis outage for everyone',
} as const;
export type Invariant = keyof typeof INVARIANTS;

export const FAULT_KINDS = ['node-sigkill', 'worker-sigkill', 'node-sigterm', 'redis-cut-one', 'redis-outage-all', 'member-cut', 'mute', 'remove', 'session-end'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosReport {
  seed: number;
  minutes: number;
  rooms: number;
  faults: Record<FaultKind, number>;
  /** Fault clearing → every expected video stream flowing again, ms (recovered ones). */
  recoveries: Record<FaultKind, number[]>;
  /** The longest pause of any expected video stream at a synthetic receiver, from the fault's injection to its recovery, ms. */
  gaps: Record<FaultKind, number[]>;
  /** Faults after which video was still missing 45 s after clearing. */
  unrecovered: Record<FaultKind, number>;
  /** Facilitator actions (mute, removal) acknowledged while another fault was under way. */
  actionsDuringFaults: number;
  violations: Record<Invariant, number>;
  examples: Record<Invariant, string[]>;
}

export function emptyReport(seed: number, minutes: number, rooms: number): ChaosReport {
  const byFault = <T>(make: () => T) => Object.fromEntries(FAULT_KINDS.map((k) => [k, make()])) as Record<FaultKind, T>;
  const byInvariant = <T>(make: () => T) => Object.fromEntries(Object.keys(INVARIANTS).map((k) => [k, make()])) as Record<Invariant, T>;
  return {
    seed,
    minutes,
    rooms,
    faults: byFault(() => 0),
    recoveries: byFault(() => []),
    gaps: byFault(() => []),
    unrecovered: byFault(() => 0),
    actionsDuringFaults: 0,
    violations: byInvariant(() => 0),
    examples: byInvariant(() => []),
  };
}

export const totalViolations = (report: ChaosReport) => Object.values(report.violations).reduce((a, b) => a + b, 0);

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const seconds = (ms: number) => (Number.isNaN(ms) ? '   –  ' : `${(ms / 1000).toFixed(1).padStart(5)} s`);

export function formatReport(report: ChaosReport): string {
  const lines = [
    '',
    `chaos — ${report.minutes} min, ${report.rooms} rooms, seed ${report.seed}`,
    '',
    '                                 cleared → video everywhere again     longest video pause of a stream',
    'faults injected          count     median      p95      max               median      p95      max',
  ];
  const three = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${seconds(quantile(sorted, 0.5))}  ${seconds(quantile(sorted, 0.95))}  ${seconds(sorted.at(-1) ?? Number.NaN)}`;
  };
  for (const kind of FAULT_KINDS) {
    const unrecovered = report.unrecovered[kind] ? `   (${report.unrecovered[kind]} not recovered in 45 s)` : '';
    lines.push(`  ${kind.padEnd(22)} ${String(report.faults[kind]).padStart(5)}    ${three(report.recoveries[kind])}            ${three(report.gaps[kind])}${unrecovered}`);
  }
  lines.push(`  (facilitator actions acknowledged during another fault: ${report.actionsDuringFaults})`, '', 'violations per invariant');
  for (const [key, text] of Object.entries(INVARIANTS) as [Invariant, string][]) {
    lines.push(`  ${String(report.violations[key]).padStart(4)}  ${text}`);
    for (const example of report.examples[key]) lines.push(`          - ${example}`);
  }
  const total = totalViolations(report);
  lines.push('', total === 0 ? 'no violations' : `${total} violation(s)`, '');
  return lines.join('\n');
}
