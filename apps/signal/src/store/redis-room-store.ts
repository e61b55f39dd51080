import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import { createClient, type RedisClientType } from 'redis';
import type { RoomChange, RoomState } from '../room/state.js';
import type { RoomStore, RoomTtl } from './room-store.js';

/*
 * A room is one Redis hash {version, doc}. Updates are optimistic: read, apply the pure
 * change, then write with a compare-and-set script that checks the version, retrying on a
 * concurrent write. Every write refreshes the key's TTL so nothing outlives a session long.
 * Ending a session replaces the room with its acknowledgement record, under its own TTL.
 */

const COMPARE_AND_SET = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`;

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'doc', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

const MAX_ATTEMPTS = 50;

export class RedisRoomStore implements RoomStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #ttl: RoomTtl;

  private constructor(client: RedisClientType, prefix: string, ttl: RoomTtl) {
    this.#client = client;
    this.#prefix = prefix;
    this.#ttl = ttl;
  }

  static async connect(url: string, prefix: string, ttl: RoomTtl): Promise<RedisRoomStore> {
    const client: RedisClientType = createClient({ url });
    // Without a listener an 'error' event would crash the process; node-redis reconnects itself.
    client.on('error', () => undefined);
    await client.connect();
    return new RedisRoomStore(client, prefix, ttl);
  }

  key(roomId: string): string {
    return `${this.#prefix}room:${roomId}`;
  }

  recordKey(roomId: string): string {
    return `${this.#prefix}acknowledgements:${roomId}`;
  }

  async create(room: RoomState): Promise<boolean> {
    const created = await this.#client.eval(CREATE, {
      keys: [this.key(room.id)],
      arguments: [String(room.version), JSON.stringify(room), String(this.#ttl(room))],
    });
    return created === 1;
  }

  async get(roomId: string): Promise<RoomState | null> {
    const doc = await this.#client.hGet(this.key(roomId), 'doc');
    return doc ? (JSON.parse(doc) as RoomState) : null;
  }

  async update(roomId: string, change: RoomChange): Promise<RoomState> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.get(roomId);
      if (!current) throw new ProtocolFailure('NOT_FOUND', 'No such room');
      const next = change(current);
      if (next === current) return current;
      const stored: RoomState = { ...next, version: current.version + 1 };
      const outcome = await this.#client.eval(COMPARE_AND_SET, {
        keys: [this.key(roomId)],
        arguments: [String(current.version), String(stored.version), JSON.stringify(stored), String(this.#ttl(stored))],
      });
      if (outcome === 1) return stored;
      if (outcome === -1) throw new ProtocolFailure('NOT_FOUND', 'No such room');
      // outcome 0: someone else wrote first; re-read and apply the change to their result.
    }
    throw new ProtocolFailure('INTERNAL', 'The room is too busy; try again');
  }

  async end(roomId: string, retentionSeconds: number): Promise<Acknowledgement[] | null> {
    const state = await this.get(roomId);
    if (!state) return null;
    // An ended room accepts no more changes, so nothing can slip in between read and delete.
    await this.#client
      .multi()
      .set(this.recordKey(roomId), JSON.stringify(state.acknowledgements), { EX: retentionSeconds })
      .del(this.key(roomId))
      .exec();
    return state.acknowledgements;
  }

  async acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null> {
    const record = await this.#client.get(this.recordKey(roomId));
    return record ? (JSON.parse(record) as Acknowledgement[]) : null;
  }

  async delete(roomId: string): Promise<void> {
    await this.#client.del(this.key(roomId));
  }

  async ping(): Promise<void> {
    await this.#client.ping();
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
