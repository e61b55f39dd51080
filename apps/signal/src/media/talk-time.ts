import type { TalkTimeEntry } from '@group-room/shared';

/**
 * Each member's speaking time this session, from the router's audio-level observer: every
 * report interval in which a member's microphone is above the threshold counts as speaking.
 * A producer the server has paused (muted, not their turn) sends nothing, so it never counts.
 * Kept in the serving node's memory, and saved beside the room every few seconds so that a
 * node taking the room over (or the next process) goes on from there; never sent to members.
 */
export class TalkTime {
  readonly #spoken = new Map<string, { speakingMs: number; lastSpokeAt: number }>();
  /** Changed since the last `tally()` (so an unchanged one is not saved again). */
  #dirty = false;

  /** Go on from a tally saved by the node that served the room before. */
  static from(tally: Record<string, { speakingMs: number; lastSpokeAt: number }> | null): TalkTime {
    const talk = new TalkTime();
    for (const [id, entry] of Object.entries(tally ?? {})) talk.#spoken.set(id, { ...entry });
    return talk;
  }

  /** Everything counted, to be saved; null when nothing changed since the last call. */
  tally(): Record<string, { speakingMs: number; lastSpokeAt: number }> | null {
    if (!this.#dirty) return null;
    this.#dirty = false;
    return Object.fromEntries([...this.#spoken].map(([id, entry]) => [id, { ...entry }]));
  }

  /** These members were heard for `ms` (one observer interval), up to `now`. */
  heard(memberIds: Iterable<string>, ms: number, now: number): void {
    for (const id of new Set(memberIds)) {
      const entry = this.#spoken.get(id) ?? { speakingMs: 0, lastSpokeAt: now };
      entry.speakingMs += ms;
      entry.lastSpokeAt = now;
      this.#spoken.set(id, entry);
      this.#dirty = true;
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
    if (this.#spoken.delete(memberId)) this.#dirty = true;
  }

  /** Keep only the members `keep` says are still in the room. */
  retain(keep: (memberId: string) => boolean): void {
    for (const memberId of [...this.#spoken.keys()]) if (!keep(memberId)) this.forget(memberId);
  }

  get size(): number {
    return this.#spoken.size;
  }
}
