import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameCrypto } from './frame-crypto';

/*
 * Which status each sender's frames report under: the camera's and the shared screen's are
 * both video, and must not share one (a share with no key would hide behind the camera's).
 */

afterEach(() => vi.unstubAllGlobals());

describe('sender statuses', () => {
  it('the camera reports as send:video, the shared screen as send:screen, the microphone as send:audio', () => {
    const posted: { id?: string }[] = [];
    vi.stubGlobal(
      'Worker',
      class {
        onmessage: unknown = null;
        postMessage(message: { id?: string }) {
          posted.push(message);
        }
      },
    );
    const frames = new FrameCrypto('streams');
    const sender = () => ({ createEncodedStreams: () => ({ readable: {}, writable: {} }) }) as unknown as RTCRtpSender;
    frames.attachSender(sender(), 'audio');
    frames.attachSender(sender(), 'video');
    frames.attachSender(sender(), 'video', 'screen');
    expect(posted.map((m) => m.id)).toEqual(['send:audio', 'send:video', 'send:screen']);
  });
});
