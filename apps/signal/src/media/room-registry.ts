import { KeyedQueue } from '../keyed-queue.js';
import { RoomMedia } from './room-media.js';
import { TalkTime } from './talk-time.js';
import type { TalkTally } from '../store/room-store.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * This node's live rooms' media. A room's router exists while someone's media is in it; its
 * talk time lives beside it, so a router rebuilt after a worker died (or a member's media
 * restarted after a reload) goes on counting from where it was.
 */
export class RoomRegistry {
  readonly #pool: WorkerPool;
  readonly #rooms = new Map<string, RoomMedia>();
  readonly #talk = new Map<string, TalkTime>();
  /** Joins and leaves of one room run in order. */
  readonly queue = new KeyedQueue();
  /** Told when a room's router was lost with its worker (set by the hub). */
  onLost: (roomId: string) => void = () => undefined;

  readonly #loadTalk: (roomId: string) => Promise<TalkTally | null>;

  /** `loadTalk`: the talk time saved for a room (by the node that served it before), if any. */
  constructor(pool: WorkerPool, loadTalk: (roomId: string) => Promise<TalkTally | null> = async () => null) {
    this.#pool = pool;
    this.#loadTalk = loadTalk;
  }

  get(roomId: string): RoomMedia | undefined {
    return this.#rooms.get(roomId);
  }

  talkTime(roomId: string): TalkTime | undefined {
    return this.#talk.get(roomId);
  }

  /** Call inside `queue.run(roomId, …)`. */
  async open(roomId: string): Promise<RoomMedia> {
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    let talk = this.#talk.get(roomId);
    if (!talk) {
      // Taken over or restarted: go on from what was saved (nothing, if the store cannot say).
      talk = TalkTime.from(await this.#loadTalk(roomId).catch(() => null));
      this.#talk.set(roomId, talk);
    }
    const media = await RoomMedia.create(this.#pool, talk, () => {
      if (this.#rooms.get(roomId) !== media) return;
      this.#rooms.delete(roomId);
      this.onLost(roomId);
    });
    this.#rooms.set(roomId, media);
    return media;
  }

  /** Call inside `queue.run(roomId, …)`: closes the router once nobody's media is in it. */
  closeIfEmpty(roomId: string): void {
    const media = this.#rooms.get(roomId);
    if (media && media.size === 0) {
      media.close();
      this.#rooms.delete(roomId);
    }
  }

  /** Close a room's media whoever is still in it, and forget its talk time (the session ended). */
  close(roomId: string): void {
    this.#rooms.get(roomId)?.close();
    this.#rooms.delete(roomId);
    this.#talk.delete(roomId);
  }

  /** Forget the talk time of people no longer in the room (their seats were freed). */
  forgetTalk(roomId: string, keep: (memberId: string) => boolean): void {
    const talk = this.#talk.get(roomId);
    if (!talk) return;
    talk.retain(keep);
    if (talk.size === 0 && !this.#rooms.has(roomId)) this.#talk.delete(roomId);
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  closeAll(): void {
    for (const media of this.#rooms.values()) media.close();
    this.#rooms.clear();
    this.#talk.clear();
  }
}
