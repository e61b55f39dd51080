import { z } from 'zod';

/** Room ids are unguessable: whoever has the link may ask to join. */
export const RoomId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{10,64}$/, 'must be 10-64 letters, digits, "-" or "_"');
export type RoomId = z.infer<typeof RoomId>;

/** Server-generated ids for peers and media objects (mediasoup uses UUIDs). */
export const EntityId = z.string().min(1).max(64);
export type EntityId = z.infer<typeof EntityId>;

export const DISPLAY_NAME_MAX = 40;

/**
 * A display name is free text shown to the group (first names or pseudonyms), never an
 * identity. Normalised to NFC, control characters removed, whitespace collapsed.
 */
/**
 * One line of text as people will see it: NFC, control and format characters removed (bidi
 * overrides, zero-width characters: what could make a name or title read as something else),
 * whitespace collapsed.
 */
export const plainLine = (raw: string): string =>
  raw
    .normalize('NFC')
    // Invisible and control characters go, except that a tab or newline counts as a space.
    .replace(/[\p{Cc}\p{Cf}]/gu, (ch) => (/\s/u.test(ch) ? ' ' : ''))
    .replace(/\s+/gu, ' ')
    .trim();

export const DisplayName = z
  .string()
  .max(200, 'is too long')
  .transform(plainLine)
  .pipe(
    z
      .string()
      .min(1, 'must not be empty')
      .max(DISPLAY_NAME_MAX, `must be at most ${DISPLAY_NAME_MAX} characters`),
  );
export type DisplayName = z.output<typeof DisplayName>;

export const MediaKind = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof MediaKind>;

/** A person's own devices: what a facilitator can turn off (and ask to turn back on). */
export const DeviceSource = z.enum(['mic', 'camera']);
export type DeviceSource = z.infer<typeof DeviceSource>;

/**
 * What a producer carries, so the UI can tell the microphone from the camera and a shared
 * screen (a screen, window or tab; video only, sent only with a facilitator's grant).
 */
export const MediaSource = z.enum(['mic', 'camera', 'screen']);
export type MediaSource = z.infer<typeof MediaSource>;

export const ProducerView = z.object({
  id: EntityId,
  kind: MediaKind,
  source: MediaSource,
  paused: z.boolean(),
});
export type ProducerView = z.infer<typeof ProducerView>;

export const TransportDirection = z.enum(['send', 'recv']);
export type TransportDirection = z.infer<typeof TransportDirection>;

// Here, not with the requests that carry them: the room page reads both from its storage before it has any request to make.
/** A signed link token (facilitator or invite); opaque to clients. */
export const LinkToken = z.string().min(16).max(2048);

/**
 * What lets this tab take its seat back after a dropped connection or a reload: a signed
 * credential bound to the room and the person, good for one resume (each resume answers with
 * a new one), kept in the tab's sessionStorage. `graceSeconds`: how long the seat is kept
 * once the connection is gone.
 */
export const SeatResume = z.object({ credential: LinkToken, memberId: EntityId, graceSeconds: z.number().int().positive() });
export type SeatResume = z.infer<typeof SeatResume>;
