import path from 'node:path';
import type { NextConfig } from 'next';

const repoRoot = path.resolve(import.meta.dirname, '../..');

const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The workspace packages live above this app; let the bundler and tracing see them.
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'Referrer-Policy', value: 'no-referrer' }, // room links are secrets
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          // Screen sharing (a window or tab, from this page only) needs display-capture for the page itself.
          { key: 'Permissions-Policy', value: 'camera=(self), microphone=(self), display-capture=(self)' },
          // For browsers without CSP's frame-ancestors (see proxy.ts for the policy itself).
          { key: 'X-Frame-Options', value: 'DENY' },
        ],
      },
    ];
  },
};

export default nextConfig;
