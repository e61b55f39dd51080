import { PrivateSignalRequest, summariseZodError, type RequestPayload } from '@group-room/shared';
import { NOT_CONNECTED, attempt, type ActionResult } from './action-result';
import type { SignalClient } from './signal-client';

/** What a member can send the facilitators privately (before normalisation). */
export type PrivateSignalInput = RequestPayload<'signal:send'>['signal'];

/** Tell the facilitators something privately; checked here first for a clear message. */
export async function sendPrivateSignal(signal: SignalClient | undefined, request: PrivateSignalInput): Promise<ActionResult> {
  if (!signal) return NOT_CONNECTED;
  const parsed = PrivateSignalRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = issue?.path.includes('text') ? `The message ${issue.message}.` : summariseZodError(parsed.error);
    return { ok: false, message };
  }
  return attempt(signal, async (connection) => {
    await connection.request('signal:send', { signal: parsed.data });
    return undefined;
  });
}
