/*
 * Whether this browser can transform (encrypt) media frames, and how: apart from frame-crypto.ts,
 * which the page's first screen does not need (it only asks whether the browser can enter).
 */

export type TransformApi = 'streams' | 'script';

export interface EncodedStreams {
  readable: ReadableStream;
  writable: WritableStream;
}
export type WithStreams = { createEncodedStreams?: () => EncodedStreams };

/** How this browser can transform frames, or null when it cannot (it cannot enter then). */
export function transformApi(): TransformApi | null {
  if (typeof window === 'undefined') return null;
  if (typeof RTCRtpSender !== 'undefined' && typeof (RTCRtpSender.prototype as WithStreams).createEncodedStreams === 'function') return 'streams';
  if (typeof window.RTCRtpScriptTransform === 'function') return 'script';
  return null;
}
