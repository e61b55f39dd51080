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
  decrypts: "what members and pages receive from each other decrypts (no sender's frames fail to for 10 s at a member or on the page, none fails to authenticate)",
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
  e2ee: E2eeFigures;
  violations: Record<Invariant, number>;
  examples: Record<Invariant, string[]>;
}

/** End-to-end encryption as the run saw it. */
export interface E2eeFigures {
  /** Frames the synthetic members sealed, and dropped for want of a key (before their first, or after a removal). */
  sealed: number;
  dropped: number;
  /** Synthetic members that had no key in use 15 s after entering. */
  unkeyed: number;
  /** Received frames sampled at the synthetic members and opened with their keys; those that did not open, by reason. */
  opened: number;
  notOpened: Record<string, number>;
  /** Synthetic members whose frames reached the facilitator's page, and of those, the ones it showed decrypted. */
  pageSenders: number;
  pageDecrypted: number;
  /** Key handshake messages of synthetic members that did not go out, by code (DISCONNECTED: no connection then). */
  relaysRefused: Record<string, number>;
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
    e2ee: { sealed: 0, dropped: 0, unkeyed: 0, opened: 0, notOpened: {}, pageSenders: 0, pageDecrypted: 0, relaysRefused: {} },
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
  lines.push(`  (facilitator actions acknowledged during another fault: ${report.actionsDuringFaults})`, '');
  const e = report.e2ee;
  const byCode = (counts: Record<string, number>) => Object.entries(counts).map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
  lines.push(
    'end-to-end encryption',
    `  synthetic members: ${e.sealed} frames sealed, ${e.dropped} dropped without a key; ${e.unkeyed} without a key 15 s after entering; key messages not relayed: ${byCode(e.relaysRefused)}`,
    `  frames sampled at members: ${e.opened} opened, ${Object.values(e.notOpened).reduce((a, b) => a + b, 0)} did not (${byCode(e.notOpened)})`,
    `  facilitator pages: ${e.pageDecrypted} of ${e.pageSenders} synthetic senders shown decrypted`,
    '',
    'violations per invariant',
  );
  for (const [key, text] of Object.entries(INVARIANTS) as [Invariant, string][]) {
    lines.push(`  ${String(report.violations[key]).padStart(4)}  ${text}`);
    for (const example of report.examples[key]) lines.push(`          - ${example}`);
  }
  const total = totalViolations(report);
  lines.push('', total === 0 ? 'no violations' : `${total} violation(s)`, '');
  return lines.join('\n');
}
