import { PrivateMessageText, PrivateSignalRequest, summariseZodError, type SealedFor } from '@group-room/shared';
import { NOT_CONNECTED, attempt, type ActionResult } from './action-result';
import type { SignalClient } from './signal-client';

/** What a member can send the facilitators privately: a message's text is sealed before it leaves. */
export type PrivateSignalInput = { kind: 'need-moment' } | { kind: 'stepping-away' } | { kind: 'back' } | { kind: 'message'; text: string };

const NO_FACILITATOR_DEVICE = "The facilitator's device is not connected to the encrypted room yet, so the message cannot be sent. Try again in a moment.";

/**
 * Tell the facilitators something privately; checked here first for a clear message. A message
 * goes sealed for each facilitator's browser (`seal`); the server never sees its text.
 */
export async function sendPrivateSignal(
  signal: SignalClient | undefined,
  request: PrivateSignalInput,
  seal: (text: string) => Promise<SealedFor[]>,
): Promise<ActionResult> {
  if (!signal) return NOT_CONNECTED;
  let payload: unknown = request;
  if (request.kind === 'message') {
    const text = PrivateMessageText.safeParse(request.text);
    if (!text.success) return { ok: false, message: `The message ${text.error.issues[0]?.message ?? 'is not valid'}.` };
    const sealed = await seal(text.data).catch(() => []);
    if (!sealed.length) return { ok: false, message: NO_FACILITATOR_DEVICE };
    payload = { kind: 'message', sealed };
  }
  const parsed = PrivateSignalRequest.safeParse(payload);
  if (!parsed.success) return { ok: false, message: summariseZodError(parsed.error) };
  return attempt(signal, async (connection) => {
    await connection.request('signal:send', { signal: parsed.data });
    return undefined;
  });
}
