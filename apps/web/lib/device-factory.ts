import { Device, detectDevice } from 'mediasoup-client';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { Chrome74 } from 'mediasoup-client/handlers/Chrome74';
import { Firefox120 } from 'mediasoup-client/handlers/Firefox120';
import type { HandlerFactory, HandlerGetNativeRtpCapabilitiesOptions } from 'mediasoup-client/handlers/HandlerInterface';
import { Safari12 } from 'mediasoup-client/handlers/Safari12';
import type { RtpCapabilities } from 'mediasoup-client/types';

/*
 * mediasoup-client's Device, with the browser's own RTP capabilities read ahead of time. Loading
 * a Device asks the browser twice (a throwaway RTCPeerConnection and an offer each, ~150 ms on a
 * busy page) for what it can send and receive, which does not depend on the room: so that is
 * asked while the person is still on the way in, and the load after admission only matches it
 * with the router's. The handlers are the ones mediasoup-client itself picks from (Device
 * imports them all), so this adds no code.
 */

type Direction = HandlerGetNativeRtpCapabilitiesOptions['direction'];

const HANDLERS = { Chrome111, Chrome74, Firefox120, Safari12 } as const;

/** The detected handler's factory, each direction's capabilities asked once (a failed ask is asked again). */
function rememberingFactory(): HandlerFactory | undefined {
  const name = detectDevice();
  if (!name || !(name in HANDLERS)) return undefined;
  const base = HANDLERS[name as keyof typeof HANDLERS].createFactory({});
  const asked = new Map<Direction, Promise<RtpCapabilities>>();
  return {
    ...base,
    getNativeRtpCapabilities: ({ direction }) => {
      let answer = asked.get(direction);
      if (!answer) {
        answer = base.getNativeRtpCapabilities({ direction });
        answer.catch(() => asked.delete(direction));
        asked.set(direction, answer);
      }
      // Device.load clones what it is given, so one answer serves every Device.
      return answer;
    },
  };
}

let factory: HandlerFactory | undefined | null = null;
const handlerFactory = () => (factory === null ? (factory = rememberingFactory()) : factory);

/** Ask the browser for its capabilities now, so a later Device load need not; never rejects. */
export function warmDevice(): void {
  const f = handlerFactory();
  if (!f) return;
  for (const direction of ['recvonly', 'sendonly'] as const) f.getNativeRtpCapabilities({ direction }).catch(() => undefined);
}

/** A new, unloaded Device (throws UnsupportedError, as mediasoup-client does, in a browser it does not support). */
export function makeDevice(): Device {
  const f = handlerFactory();
  return f ? new Device({ handlerFactory: f }) : new Device();
}
