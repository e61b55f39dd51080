import type { TalkTimeEntry } from '@group-room/shared';

/**
 * Each member's speaking time this session, from the router's audio-level observer: every
 * report interval in which a member's microphone is above the threshold counts as speaking.
 * A producer the server has paused (muted, not their turn) sends nothing, so it never counts.
 * Kept in this node's memory only (across a member's reconnects and a rebuilt router, not
 * across a restart of the node); never stored, never sent to members.
 */
export class TalkTime {
  readonly #spoken = new Map<string, { speakingMs: number; lastSpokeAt: number }>();

  /** These members were heard for `ms` (one observer interval), up to `now`. */
  heard(memberIds: Iterable<string>, ms: number, now: number): void {
    for (const id of new Set(memberIds)) {
      const entry = this.#spoken.get(id) ?? { speakingMs: 0, lastSpokeAt: now };
      entry.speakingMs += ms;
      entry.lastSpokeAt = now;
      this.#spoken.set(id, entry);
    }
  }

  /** Everyone asked about, heard or not, in the order given. */
  snapshot(memberIds: Iterable<string>): TalkTimeEntry[] {
    return [...memberIds].map((memberId) => {
      const entry = this.#spoken.get(memberId);
      return { memberId, speakingMs: entry?.speakingMs ?? 0, lastSpokeAt: entry?.lastSpokeAt ?? null };
    });
  }

  forget(memberId: string): void {
    this.#spoken.delete(memberId);
  }

  /** Keep only the members `keep` says are still in the room. */
  retain(keep: (memberId: string) => boolean): void {
    for (const memberId of [...this.#spoken.keys()]) if (!keep(memberId)) this.#spoken.delete(memberId);
  }

  get size(): number {
    return this.#spoken.size;
  }
}
