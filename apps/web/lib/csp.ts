/**
 * The page's Content Security Policy. Scripts only from this origin and Next's own inline
 * scripts carrying this response's nonce ('strict-dynamic' lets those load the rest); sockets
 * and fetches to this origin only ('self' covers ws:/wss: of the same host); nothing may
 * frame the room (a framed "End the session" or "Remove" button is a clickjacking target).
 * Inline style attributes stay allowed: React sets some, and they cannot run code.
 */
export function contentSecurityPolicy(nonce: string, { dev = false } = {}): string {
  return [
    "default-src 'self'",
    // Next's development server evaluates code; the production build never does.
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",
    // The frame-encryption worker, a script of this origin.
    "worker-src 'self'",
    "media-src 'self' blob: mediastream:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
