import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import type { RoomChange, RoomState } from '../room/state.js';
import { serverFull, type RoomStore, type RoomTtl, type TalkTally } from './room-store.js';

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/** In-process store: atomic because each update runs to completion without awaiting. */
export class MemoryRoomStore implements RoomStore {
  readonly #rooms = new Map<string, Expiring<RoomState>>();
  readonly #records = new Map<string, Expiring<Acknowledgement[]>>();
  readonly #nodes = new Map<string, number>();
  readonly #talk = new Map<string, TalkTally>();
  readonly #ttl: RoomTtl;

  readonly #maxRooms: number;

  /** `maxRooms`: live rooms this process may hold at once (MAX_ROOMS); unlimited when absent. */
  constructor(ttl: RoomTtl, maxRooms = Number.MAX_SAFE_INTEGER) {
    this.#ttl = ttl;
    this.#maxRooms = maxRooms;
  }

  #live<T>(map: Map<string, Expiring<T>>, key: string): T | null {
    const entry = map.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      map.delete(key);
      return null;
    }
    return entry.value;
  }

  #put(state: RoomState): void {
    this.#rooms.set(state.id, { value: structuredClone(state), expiresAt: Date.now() + this.#ttl(state) * 1000 });
  }

  async create(room: RoomState): Promise<boolean> {
    if (this.#live(this.#rooms, room.id)) return false;
    // Checked and taken without an await in between: racing creations cannot pass the bound.
    if (this.#rooms.size >= this.#maxRooms) {
      for (const id of [...this.#rooms.keys()]) this.#live(this.#rooms, id);
      if (this.#rooms.size >= this.#maxRooms) throw serverFull();
    }
    this.#put(room);
    return true;
  }

  async get(roomId: string): Promise<RoomState | null> {
    const state = this.#live(this.#rooms, roomId);
    return state ? structuredClone(state) : null;
  }

  async update(roomId: string, change: RoomChange): Promise<RoomState> {
    const current = this.#live(this.#rooms, roomId);
    if (!current) throw new ProtocolFailure('NOT_FOUND', 'No such room');
    const draft = structuredClone(current);
    const next = change(draft);
    if (next === draft) return draft; // unchanged: no write, no version bump
    const stored = { ...next, version: current.version + 1 };
    this.#put(stored);
    return structuredClone(stored);
  }

  async end(roomId: string, retentionSeconds: number): Promise<Acknowledgement[] | null> {
    const state = this.#live(this.#rooms, roomId);
    if (!state) return null;
    this.#records.set(roomId, { value: structuredClone(state.acknowledgements), expiresAt: Date.now() + retentionSeconds * 1000 });
    this.#rooms.delete(roomId);
    this.#talk.delete(roomId);
    return structuredClone(state.acknowledgements);
  }

  /** How many rooms and records are held, expired or not (to check that expiry frees memory). */
  get held(): { rooms: number; records: number } {
    return { rooms: this.#rooms.size, records: this.#records.size };
  }

  async saveTalk(roomId: string, tally: TalkTally): Promise<void> {
    if (this.#live(this.#rooms, roomId)) this.#talk.set(roomId, structuredClone(tally));
  }

  async loadTalk(roomId: string): Promise<TalkTally | null> {
    if (!this.#live(this.#rooms, roomId)) return null;
    const tally = this.#talk.get(roomId);
    return tally ? structuredClone(tally) : null;
  }

  async acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null> {
    const record = this.#live(this.#records, roomId);
    return record ? structuredClone(record) : null;
  }

  async delete(roomId: string): Promise<void> {
    this.#rooms.delete(roomId);
    this.#talk.delete(roomId);
  }

  /**
   * Every live room's id. Expired rooms and acknowledgement records are dropped here too, not
   * only when read: the seat sweeper calls this every few seconds, so nothing (names above
   * all) stays in memory past its retention, as Redis's TTLs ensure there.
   */
  async roomIds(): Promise<string[]> {
    for (const id of [...this.#records.keys()]) this.#live(this.#records, id);
    const live = [...this.#rooms.keys()].filter((id) => this.#live(this.#rooms, id));
    for (const id of [...this.#talk.keys()]) if (!this.#rooms.has(id)) this.#talk.delete(id);
    return live;
  }

  async heartbeat(nodeId: string, ttlMs: number): Promise<void> {
    this.#nodes.set(nodeId, Date.now() + ttlMs);
  }

  async forgetNode(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
  }

  async liveNodes(): Promise<Set<string>> {
    const now = Date.now();
    return new Set([...this.#nodes].filter(([, until]) => until > now).map(([id]) => id));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#rooms.clear();
    this.#records.clear();
    this.#nodes.clear();
    this.#talk.clear();
  }
}
