import { RoomId } from '@group-room/shared';
import type { LinkSecret } from '@group-room/shared/e2ee';
import { secretFromHash, secretFragment, tokenFromHash } from './e2ee/link-secrets';

/*
 * Room links are `/room/<roomId>#k=<token>&s=<room secret>` (facilitator) or
 * `…#k=<token>&i=<invite secret>` (invite). The token is the server's; the secret is made in
 * the facilitator's browser and is what end-to-end encryption starts from. Both live in the
 * fragment, which browsers never send to the server or put in a Referer.
 */

export function roomLink(origin: string, roomId: string, token: string, secret: LinkSecret): string {
  return `${origin}/room/${roomId}#k=${encodeURIComponent(token)}${secretFragment(secret)}`;
}

/**
 * A pasted room link, reduced to a same-origin path and fragment so pasting can never send
 * anyone to another site.
 */
export function parsePastedLink(input: string, origin: string): { ok: true; href: string } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(input.trim(), origin);
  } catch {
    return { ok: false, message: 'That does not look like a room link.' };
  }
  const match = /^\/room\/([^/]+)\/?$/.exec(url.pathname);
  if (!match?.[1] || !RoomId.safeParse(match[1]).success) {
    return { ok: false, message: 'That does not look like a room link. It should contain /room/ followed by a code.' };
  }
  const token = tokenFromHash(url.hash);
  const secret = secretFromHash(url.hash);
  if (!token || !secret) return { ok: false, message: 'That link is incomplete: it should end with #k= and two long codes. Copy the whole link again.' };
  return { ok: true, href: `/room/${match[1]}#k=${encodeURIComponent(token)}${secretFragment(secret)}` };
}

const inviteKey = (roomId: string) => `group-room:invite:${roomId}`;

/** The invite link made with the room, remembered for this tab so the room can offer it. */
export function rememberInviteLink(roomId: string, link: string): void {
  try {
    window.sessionStorage.setItem(inviteKey(roomId), link);
  } catch {
    // storage can be unavailable (private modes); the room can make a new link instead
  }
}

export function rememberedInviteLink(roomId: string): string | null {
  try {
    return window.sessionStorage.getItem(inviteKey(roomId));
  } catch {
    return null;
  }
}
