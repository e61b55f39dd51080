import type { Device } from 'mediasoup-client';
import { loadRetrying } from './load-retrying';

/*
 * mediasoup-client (with its SDP code, about a fifth of the room page's script) is loaded apart
 * from the page's first screen: nothing before media starts needs it. The page asks for it once
 * someone is on their way in (preloadMediaDevice), so it is there before media:join answers.
 */

const load = () => import('./device-factory');

/**
 * Start loading mediasoup-client, and have the browser say what it can send and receive (the
 * slow part of a Device's load, device-factory.ts); a failure here is met again, and reported,
 * by newDevice.
 */
export function preloadMediaDevice(): void {
  load().then(({ warmDevice }) => warmDevice(), () => undefined);
}

/**
 * A new, unloaded mediasoup-client Device. Rejects with CodeUnavailable when its code could
 * not be fetched (a network failure: media is tried again, the person stays in the room).
 */
export async function newDevice(): Promise<Device> {
  const { makeDevice } = await loadRetrying(load);
  return makeDevice();
}
