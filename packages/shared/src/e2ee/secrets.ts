import { fromBase64url, randomBytes, toBase64url } from './bytes.js';
import { hkdf } from './hkdf.js';

/*
 * The secrets links carry, made and read only in browsers. The facilitator's browser makes the
 * room secret when it creates the session; the facilitator link carries it. Each invite link
 * carries its own invite secret, derived from the room secret and the invite's id, so no member
 * link reveals the room secret and the facilitator's browser can recompute any invite's secret
 * from the id the server shows it. Links carry them in the URL fragment, which browsers never
 * send to a server.
 */

export const SECRET_BYTES = 32;
const LABEL = 'group-room/v1';

/** A new room secret, base64url. */
export function newRoomSecret(): string {
  return toBase64url(randomBytes(SECRET_BYTES));
}

/** The bytes of a link secret, or null when the text is not one (a link cut short). */
export function parseSecret(text: string | null | undefined): Uint8Array | null {
  if (!text) return null;
  const bytes = fromBase64url(text);
  return bytes && bytes.length === SECRET_BYTES ? bytes : null;
}

/** The secret an invite link carries: derived from the room secret and the invite's id. */
export async function inviteSecret(roomSecret: Uint8Array, inviteId: string): Promise<Uint8Array> {
  return hkdf(roomSecret, `${LABEL} invite ${inviteId}`, SECRET_BYTES);
}

/** What two holders of the room secret (two facilitator devices) authenticate each other with. */
export async function facilitatorSecret(roomSecret: Uint8Array): Promise<Uint8Array> {
  return hkdf(roomSecret, `${LABEL} facilitator`, SECRET_BYTES);
}

/** What a link's fragment carries besides the server's token. */
export type LinkSecret = { kind: 'room'; secret: string } | { kind: 'invite'; secret: string };

/** The fragment parameter for a link secret: `s` for the room secret, `i` for an invite's. */
export const linkSecretParam = (secret: LinkSecret): string => `${secret.kind === 'room' ? 's' : 'i'}=${secret.secret}`;

/** The link secret in a fragment's parameters, if any. */
export function linkSecretFrom(params: URLSearchParams): LinkSecret | null {
  const room = params.get('s');
  if (parseSecret(room)) return { kind: 'room', secret: room! };
  const invite = params.get('i');
  if (parseSecret(invite)) return { kind: 'invite', secret: invite! };
  return null;
}
