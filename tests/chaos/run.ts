import { ChaosRun } from './harness.js';
import { formatReport, totalViolations } from './report.js';

/*
 * npm run chaos -- <minutes> [rooms] [members per room]
 * Starts the stack, fills a few rooms, injects faults at random for the given minutes and
 * prints the faults, the recovery times and the violations per invariant; exits 1 if there
 * were violations. CHAOS_SEED=<n> repeats a run's choices (not its timings).
 */
const minutes = Number(process.argv[2] ?? 2);
const rooms = Number(process.argv[3] ?? 3);
const membersPerRoom = Number(process.argv[4] ?? 3);
if (!(minutes > 0) || !(rooms >= 1) || !(membersPerRoom >= 2)) {
  process.stderr.write('usage: npm run chaos -- <minutes> [rooms=3] [members per room=3]\n');
  process.exit(2);
}
const seed = process.env['CHAOS_SEED'] ? Number(process.env['CHAOS_SEED']) : undefined;

// Whatever happens, the run ends: the harness's own loops have deadlines, and this is the last resort.
const guard = setTimeout(
  () => {
    process.stderr.write('chaos: still running long after its time, giving up\n');
    process.exit(3);
  },
  (minutes + 15) * 60_000,
);
guard.unref();

const run = new ChaosRun({ minutes, rooms, membersPerRoom, ...(seed !== undefined ? { seed } : {}), log: (line) => process.stdout.write(`${line}\n`) });
// Ctrl-C: finish the fault under way, end the sessions, stop everything and report; twice: at once.
let interrupted = false;
const interrupt = () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stdout.write('chaos: stopping after the fault under way (Ctrl-C again to quit at once)\n');
  run.requestStop();
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

try {
  const report = await run.run();
  process.stdout.write(formatReport(report));
  process.exit(totalViolations(report) === 0 ? 0 : 1);
} catch (error) {
  process.stderr.write(`chaos failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
}
