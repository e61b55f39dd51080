import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.dirname(fileURLToPath(import.meta.url));

/*
 * Tests run on the TypeScript sources, no build needed: the workspace packages are aliased
 * to their entry files and vite resolves the `.js` import specifiers to the `.ts` files.
 */
const alias = [
  { find: /^@group-room\/shared$/, replacement: path.join(root, 'packages/shared/src/index.ts') },
  { find: /^@group-room\/shared\/e2ee$/, replacement: path.join(root, 'packages/shared/src/e2ee/index.ts') },
  { find: /^@group-room\/signal$/, replacement: path.join(root, 'apps/signal/src/index.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['packages/**/src/**/*.test.ts', 'apps/signal/src/**/*.test.ts', 'apps/web/lib/**/*.test.ts', 'tests/support/**/*.test.ts'],
          testTimeout: 10_000,
          hookTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          environment: 'node',
          include: ['tests/integration/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['tests/browser/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          /*
           * `fileParallelism` is a run-wide option in vitest 3; the per-project equivalent is
           * one fork for all of this project's files (they run one after another), and a later
           * group so browsers do not compete with the other projects for the CPU.
           */
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          environment: 'node',
          include: ['tests/chaos/**/*.test.ts'],
          testTimeout: 15 * 60_000,
          hookTimeout: 120_000,
          // Alone and last: it runs the whole stack, a browser and synthetic members.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
