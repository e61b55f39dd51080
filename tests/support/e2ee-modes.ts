/*
 * Test and bench harness only: init scripts that take the product's frame transforms out of the
 * media path in Chromium, to compare against encryption (bench:e2ee) and to show that the tap
 * test can see plaintext (its control run). The product itself has no switch for this; these
 * replace the browser API it uses (`createEncodedStreams`), as a local debugger could.
 *
 * - `passthrough`: the encoded streams are piped straight through (frames cross a transform
 *   stream unchanged); the product's worker gets streams that never carry a frame.
 * - `none`: no encoded streams at all (the peer connection is made without
 *   `encodedInsertableStreams`); the product's worker again gets empty streams.
 */
export type TransformMode = 'encrypt' | 'passthrough' | 'none';

export function transformModeScript(mode: TransformMode): string {
  if (mode === 'encrypt') return '';
  return `(() => {
    const mode = ${JSON.stringify(mode)};
    const idle = () => ({ readable: new ReadableStream(), writable: new WritableStream() });
    for (const Target of [RTCRtpSender, RTCRtpReceiver]) {
      const original = Target.prototype.createEncodedStreams;
      Target.prototype.createEncodedStreams = function () {
        if (mode === 'passthrough') {
          const real = original.call(this);
          real.readable.pipeThrough(new TransformStream()).pipeTo(real.writable).catch(() => {});
        }
        return idle();
      };
    }
    if (mode === 'none') {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config) {
          const { encodedInsertableStreams, ...rest } = config || {};
          super(rest);
        }
      };
    }
  })();`;
}
