import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { repoRoot } from '../support/prod-server.js';

/*
 * capacity-hook.ts as plain JavaScript, for our server's `--import`. Loaded through tsx instead
 * (`--import tsx --import capacity-hook.ts`), the server hung before it started, now and then
 * and on a fresh clone every time (tsx's loader thread and esbuild service beside the server's
 * start, on Node 20): so the two files are transpiled by TypeScript here, into the repository's
 * node_modules/.cache (where `mediasoup` resolves to the server's own copy), and nothing but
 * Node loads them.
 */

const FILES = ['capacity-hook', 'capacity-counters'] as const;

/** The file URL of the transpiled hook, written afresh on each call. */
export async function capacityHookModule(): Promise<string> {
  const dir = path.join(repoRoot, 'node_modules/.cache/group-room/capacity-hook');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const name of FILES) {
    const source = await readFile(path.join(repoRoot, 'tests/bench', `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    await writeFile(path.join(dir, `${name}.js`), outputText);
  }
  return pathToFileURL(path.join(dir, 'capacity-hook.js')).href;
}
