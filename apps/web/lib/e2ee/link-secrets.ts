import { inviteSecret, linkSecretFrom, linkSecretParam, parseSecret, toBase64url, type LinkSecret } from '@group-room/shared/e2ee';

/*
 * The link secret of this tab's room (see @group-room/shared/e2ee secrets.ts): read from the
 * link's fragment, then kept only in this tab's sessionStorage so a reload can resume. Never
 * sent in a request, never in the address bar once read.
 */

const storageKey = (roomId: string) => `group-room:secret:${roomId}`;

export function secretFromHash(hash: string): LinkSecret | null {
  return linkSecretFrom(new URLSearchParams(hash.replace(/^#/, '')));
}

export function keepLinkSecret(roomId: string, secret: LinkSecret): void {
  try {
    window.sessionStorage.setItem(storageKey(roomId), JSON.stringify(secret));
  } catch {
    // Storage blocked: a reload will need the link again.
  }
}

export function keptLinkSecret(roomId: string): LinkSecret | null {
  try {
    const raw = window.sessionStorage.getItem(storageKey(roomId));
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<LinkSecret>;
    if ((parsed.kind === 'room' || parsed.kind === 'invite') && parseSecret(parsed.secret)) return parsed as LinkSecret;
    return null;
  } catch {
    return null;
  }
}

export function forgetLinkSecret(roomId: string): void {
  try {
    window.sessionStorage.removeItem(storageKey(roomId));
  } catch {
    // nothing kept
  }
}

/** The fragment part a link adds after its token: `&s=…` (facilitator) or `&i=…` (invite). */
export const secretFragment = (secret: LinkSecret): string => `&${linkSecretParam(secret)}`;

/** The secret an invite link must carry, made from the room secret in this (facilitator's) browser. */
export async function inviteLinkSecret(roomSecret: string, inviteId: string): Promise<LinkSecret> {
  const room = parseSecret(roomSecret);
  if (!room) throw new Error('This browser does not have the room secret: open the facilitator link again.');
  return { kind: 'invite', secret: toBase64url(await inviteSecret(room, inviteId)) };
}

/** The token in a link's fragment (`#k=…`, beside its secret), or null when the link was cut short. */
export function tokenFromHash(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('k');
  return token && token.length >= 16 ? token : null;
}
