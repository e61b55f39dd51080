import { KeyedQueue } from '../keyed-queue.js';
import { RoomMedia } from './room-media.js';
import type { WorkerPool } from './worker-pool.js';

/** This node's live rooms' media. A room's router exists while someone is in it. */
export class RoomRegistry {
  readonly #pool: WorkerPool;
  readonly #rooms = new Map<string, RoomMedia>();
  /** Joins and leaves of one room run in order. */
  readonly queue = new KeyedQueue();

  constructor(pool: WorkerPool) {
    this.#pool = pool;
  }

  get(roomId: string): RoomMedia | undefined {
    return this.#rooms.get(roomId);
  }

  /** Call inside `queue.run(roomId, …)`. */
  async open(roomId: string): Promise<RoomMedia> {
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const media = await RoomMedia.create(this.#pool);
    this.#rooms.set(roomId, media);
    return media;
  }

  /** Call inside `queue.run(roomId, …)`: closes the router once the room is empty. */
  closeIfEmpty(roomId: string): void {
    const media = this.#rooms.get(roomId);
    if (media && media.size === 0) {
      media.close();
      this.#rooms.delete(roomId);
    }
  }

  /** Close a room's media whoever is still in it (the session ended). */
  close(roomId: string): void {
    this.#rooms.get(roomId)?.close();
    this.#rooms.delete(roomId);
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  closeAll(): void {
    for (const media of this.#rooms.values()) media.close();
    this.#rooms.clear();
  }
}
