import { ProtocolFailure, type SealedFor } from '@group-room/shared';

/**
 * A sealed message's boxes by addressee (a private message, a check-out answer); one box per
 * addressee (BAD_REQUEST naming `field` otherwise). The boxes are opaque here: handed on, never read.
 */
export function sealedBoxes(sealed: readonly SealedFor[], field: string): Map<string, string> {
  const boxes = new Map<string, string>();
  for (const { to, data } of sealed) {
    if (boxes.has(to)) throw new ProtocolFailure('BAD_REQUEST', `${field}: one box per addressee`);
    boxes.set(to, data);
  }
  return boxes;
}
