import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults, RunOptions } from 'axe-core';
import type { Page } from 'playwright-core';
import type { Page as FirefoxPage } from 'puppeteer-core';

/*
 * axe-core in the browser tests: run it on the screen a page shows now, print one line per
 * screen, and fail when it finds a serious or critical violation (printing each, with the
 * elements). With AXE_REPORT=path every result is also appended there as a JSON line
 * ({browser, screen, violations: {critical, serious, moderate, minor}, rules, nodes}), so a
 * run's "axe result per screen" can be quoted.
 *
 * The pages have a nonce-based CSP, so axe is not added as a <script>: its source is evaluated
 * through the driver (CDP in Chromium, WebDriver BiDi in Firefox), which the CSP does not govern.
 */

/** The WCAG 2.0/2.1 A and AA rules, and axe's best practices. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

const IMPACTS = ['critical', 'serious', 'moderate', 'minor'] as const;
type Impact = (typeof IMPACTS)[number];
/** What fails a test. */
const BLOCKING: readonly Impact[] = ['critical', 'serious'];

export interface AxeViolation {
  id: string;
  impact: Impact;
  help: string;
  helpUrl: string;
  nodes: { target: string; html: string; failureSummary: string }[];
}

export interface AxeScreenResult {
  browser: string;
  screen: string;
  /** Violated rules per impact. */
  violations: Record<Impact, number>;
  /** Elements in violation, all rules together. */
  nodes: number;
  /** The violated rules, `id (impact)`. */
  rules: string[];
}

const require = createRequire(import.meta.url);
let source: string | undefined;
const axeSource = (): string => (source ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));

const RUN_OPTIONS: RunOptions = { runOnly: { type: 'tag', values: AXE_TAGS }, resultTypes: ['violations'] };

/** Runs in the page: is axe there (this document)? */
const axePresent = (): boolean => typeof (window as unknown as { axe?: { run?: unknown } }).axe?.run === 'function';

/** Runs in the page: axe over the whole document, violations reduced to what can be printed. */
const runAxeInPage = async (options: RunOptions): Promise<AxeViolation[]> => {
  const axe = (window as unknown as { axe: { run(context: Document, options: RunOptions): Promise<AxeResults> } }).axe;
  const results = await axe.run(document, options);
  return results.violations.map((v) => ({
    id: v.id,
    impact: (v.impact ?? 'minor') as AxeViolation['impact'],
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))).join(' '),
      html: n.html.slice(0, 300),
      failureSummary: n.failureSummary ?? '',
    })),
  }));
};

/** How a page of either driver is asked to run axe. */
interface AxeDriver {
  browser: string;
  present(): Promise<boolean>;
  inject(source: string): Promise<unknown>;
  run(options: RunOptions): Promise<AxeViolation[]>;
}

export interface AxeCheckOptions {
  /** Keep the result out of AXE_REPORT (a test's own check that axe can fail). Default true. */
  record?: boolean;
}

async function checkScreen(driver: AxeDriver, screen: string, { record = true }: AxeCheckOptions): Promise<AxeScreenResult> {
  if (!(await driver.present())) {
    await driver.inject(axeSource());
    if (!(await driver.present())) throw new Error(`axe could not be injected in ${driver.browser} on "${screen}"`);
  }
  const violations = await driver.run(RUN_OPTIONS);
  const result: AxeScreenResult = {
    browser: driver.browser,
    screen,
    violations: { critical: 0, serious: 0, moderate: 0, minor: 0 },
    nodes: violations.reduce((sum, v) => sum + v.nodes.length, 0),
    rules: violations.map((v) => `${v.id} (${v.impact})`),
  };
  for (const v of violations) result.violations[v.impact]++;
  report(result, record);
  const blocking = violations.filter((v) => BLOCKING.includes(v.impact));
  if (blocking.length > 0) {
    const details = blocking.map(describe).join('\n');
    console.warn(`[axe] ${driver.browser} "${screen}": serious or critical violations:\n${details}`);
    throw new Error(`axe: ${blocking.length} serious or critical violation(s) on "${screen}" in ${driver.browser}:\n${details}`);
  }
  return result;
}

function describe(v: AxeViolation): string {
  const nodes = v.nodes.map((n) => `    ${n.target}\n      ${n.html}\n      ${n.failureSummary.replace(/\n/g, '\n      ')}`).join('\n');
  return `  ${v.id} (${v.impact}): ${v.help} ${v.helpUrl}\n${nodes}`;
}

function report(result: AxeScreenResult, record: boolean): void {
  const counts = IMPACTS.map((impact) => `${impact} ${result.violations[impact]}`).join(', ');
  const rules = result.rules.length > 0 ? ` [${result.rules.join(', ')}]` : '';
  console.warn(`[axe] ${result.browser} | ${result.screen} | ${counts}${rules}`);
  const file = process.env['AXE_REPORT'];
  if (file && record) appendFileSync(file, `${JSON.stringify(result)}\n`);
}

/** axe on what a Chromium (Playwright) page shows now; throws listing any serious or critical violation. */
export function expectNoSeriousViolations(page: Page, screen: string, options: AxeCheckOptions = {}): Promise<AxeScreenResult> {
  return checkScreen(
    {
      browser: 'chromium',
      present: () => page.evaluate(axePresent),
      inject: (code) => page.evaluate(code),
      run: (options) => page.evaluate(runAxeInPage, options),
    },
    screen,
    options,
  );
}

/** The same for a Firefox page driven by Puppeteer over WebDriver BiDi (tests/support/firefox.ts). */
export function expectNoSeriousViolationsInFirefox(page: FirefoxPage, screen: string, options: AxeCheckOptions = {}): Promise<AxeScreenResult> {
  return checkScreen(
    {
      browser: 'firefox',
      present: () => page.evaluate(axePresent),
      inject: (code) => page.evaluate(code),
      run: (options) => page.evaluate(runAxeInPage, options),
    },
    screen,
    options,
  );
}
