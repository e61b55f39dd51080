import { describeError as describe } from './describe-error';
import type { SignalClient } from './signal-client';

/** What a person's action came to: its data, or a message to show them instead of a thrown error. */
export type ActionResult<T = undefined> = { ok: true; data: T } | { ok: false; message: string };

export const done: ActionResult = { ok: true, data: undefined };

export const NOT_CONNECTED: ActionResult<never> = { ok: false, message: 'You are not connected to the session.' };

/** Ask the server something on the room's connection (if there is one), its failure put in words. */
export async function attempt<T>(signal: SignalClient | undefined, ask: (signal: SignalClient) => Promise<T>): Promise<ActionResult<T>> {
  if (!signal) return NOT_CONNECTED;
  try {
    return { ok: true, data: await ask(signal) };
  } catch (error) {
    return { ok: false, message: describe(error) };
  }
}
