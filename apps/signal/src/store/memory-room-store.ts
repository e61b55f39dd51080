import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import type { RoomChange, RoomState } from '../room/state.js';
import { freezeDeep } from './frozen.js';
import { LeaseLost, NameInUse, serverFull, type Claim, type Fence, type HomeSighting, type KeptRecord, type NodeIdentity, type RoomStore, type RoomTtl, type TalkTally } from './room-store.js';

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/**
 * In-process store: atomic because each call runs to completion without awaiting. States are
 * kept frozen (see frozen.ts) and handed out as they are: a change gets the stored state
 * itself, read-only, and returns a new one (the rules never write to their input), so
 * nothing is copied per change.
 */
export class MemoryRoomStore implements RoomStore {
  readonly #rooms = new Map<string, Expiring<RoomState>>();
  readonly #records = new Map<string, Expiring<KeptRecord>>();
  /** Each node's lease: until when it lives. */
  readonly #leases = new Map<string, number>();
  /** Which node holds each name (while its lease lives). */
  readonly #names = new Map<string, string>();
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

  /** Keep `state` (frozen: nobody holding it can change what the store holds). */
  #put(state: RoomState): RoomState {
    this.#rooms.set(state.id, { value: freezeDeep(state), expiresAt: Date.now() + this.#ttl(state) * 1000 });
    return state;
  }

  /** The room's home changes (claimHome, releaseHomes): a new state object, the rest shared, the expiry kept. */
  #rehome(entry: Expiring<RoomState>, home: RoomState['home']): void {
    entry.value = freezeDeep({ ...entry.value, home });
  }

  #leaseLive(nodeId: string): boolean {
    return (this.#leases.get(nodeId) ?? 0) > Date.now();
  }

  /** The same refusals as the Redis store's scripts: a stale fence, a lapsed lease, an unfenced write to a homed room. */
  #checkWriter(state: RoomState, writer: Fence | undefined): void {
    const home = state.home;
    if (!writer) {
      if (home) throw new LeaseLost();
      return;
    }
    if (!home || home.node !== writer.node || home.fence !== writer.fence || !this.#leaseLive(writer.node)) throw new LeaseLost();
  }

  async create(room: RoomState): Promise<boolean> {
    if (this.#live(this.#rooms, room.id)) return false;
    // Checked and taken without an await in between: racing creations cannot pass the bound.
    if (this.#rooms.size >= this.#maxRooms) {
      for (const id of [...this.#rooms.keys()]) this.#live(this.#rooms, id);
      if (this.#rooms.size >= this.#maxRooms) throw serverFull();
    }
    // The caller's object stays the caller's: a copy is kept (once per room, not per change).
    const { home: _home, ...homeless } = structuredClone(room);
    this.#put(homeless);
    return true;
  }

  async get(roomId: string): Promise<RoomState | null> {
    return this.#live(this.#rooms, roomId);
  }

  /** `known` is not needed here: the stored state is at hand. */
  async update(roomId: string, change: RoomChange, writer?: Fence): Promise<RoomState> {
    const current = this.#live(this.#rooms, roomId);
    if (!current) throw new ProtocolFailure('NOT_FOUND', 'No such room');
    // Frozen: a change that writes to its input throws here, and nothing is stored.
    const next = change(current);
    if (next === current) return current; // unchanged: no write, no version bump
    this.#checkWriter(current, writer);
    // The home is the store's to set (claimHome), never a change's.
    const { home: _home, ...rest } = next;
    return this.#put({ ...rest, ...(current.home ? { home: current.home } : {}), version: current.version + 1 });
  }

  async end(roomId: string, retentionSeconds: number, writer?: Fence): Promise<Acknowledgement[] | null> {
    const state = this.#live(this.#rooms, roomId);
    if (!state) return null;
    this.#checkWriter(state, writer);
    const record: KeptRecord = { acknowledgements: structuredClone(state.acknowledgements), facilitatorLinkGeneration: state.facilitatorLinkGeneration ?? 0 };
    this.#records.set(roomId, { value: record, expiresAt: Date.now() + retentionSeconds * 1000 });
    this.#rooms.delete(roomId);
    this.#talk.delete(roomId);
    return structuredClone(state.acknowledgements);
  }

  /** How many rooms and records are held, expired or not (to check that expiry frees memory). */
  get held(): { rooms: number; records: number } {
    return { rooms: this.#rooms.size, records: this.#records.size };
  }

  async saveTalk(roomId: string, tally: TalkTally, writer: Fence): Promise<void> {
    const state = this.#live(this.#rooms, roomId);
    if (!state) return;
    this.#checkWriter(state, writer);
    this.#talk.set(roomId, structuredClone(tally));
  }

  async loadTalk(roomId: string): Promise<TalkTally | null> {
    if (!this.#live(this.#rooms, roomId)) return null;
    const tally = this.#talk.get(roomId);
    return tally ? structuredClone(tally) : null;
  }

  async acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null> {
    const record = this.#live(this.#records, roomId);
    return record ? structuredClone(record.acknowledgements) : null;
  }

  async takeAcknowledgements(roomId: string, linkGeneration: number | null): Promise<Acknowledgement[] | null> {
    const record = this.#live(this.#records, roomId);
    if (!record || (linkGeneration !== null && record.facilitatorLinkGeneration !== linkGeneration)) return null;
    this.#records.delete(roomId);
    return record.acknowledgements;
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

  async renewLease(node: NodeIdentity, ttlMs: number): Promise<void> {
    const holder = this.#names.get(node.name);
    if (holder !== undefined && holder !== node.id && this.#leaseLive(holder)) throw new NameInUse(node.name);
    this.#names.set(node.name, node.id);
    this.#leases.set(node.id, Date.now() + ttlMs);
  }

  async claimHome(roomId: string, node: NodeIdentity, options: { takeLapsed: boolean }): Promise<Claim> {
    const state = this.#live(this.#rooms, roomId);
    if (!state) return { kind: 'missing' };
    if (!this.#leaseLive(node.id)) return { kind: 'unleased' };
    const home = state.home;
    if (home?.node === node.id) return { kind: 'here', fence: { node: node.id, fence: home.fence }, taken: false };
    if (home && home.name !== node.name) {
      if (this.#leaseLive(home.node)) return { kind: 'elsewhere', name: home.name, leaseLeftMs: (this.#leases.get(home.node) ?? 0) - Date.now() };
      if (!options.takeLapsed) return { kind: 'lapsed', name: home.name };
    }
    const fence = (home?.fence ?? 0) + 1;
    this.#rehome(this.#rooms.get(roomId)!, { node: node.id, name: node.name, fence });
    return { kind: 'here', fence: { node: node.id, fence }, taken: true };
  }

  async findHome(roomId: string): Promise<HomeSighting> {
    const state = this.#live(this.#rooms, roomId);
    if (!state) return { kind: 'missing' };
    const home = state.home;
    if (!home) return { kind: 'none' };
    return { kind: 'home', node: home.node, name: home.name, leaseLeftMs: Math.max(0, (this.#leases.get(home.node) ?? 0) - Date.now()) };
  }

  async heldRooms(nodeId: string): Promise<string[]> {
    return (await this.roomIds()).filter((id) => this.#rooms.get(id)?.value.home?.node === nodeId);
  }

  async lapsedRooms(limit: number): Promise<string[]> {
    const lapsed: string[] = [];
    for (const id of await this.roomIds()) {
      const home = this.#rooms.get(id)?.value.home;
      // Released by a node that stopped cleanly: home null, where a room never taken has none.
      if ((home && !this.#leaseLive(home.node)) || home === null) lapsed.push(id);
      if (lapsed.length >= limit) break;
    }
    return lapsed;
  }

  async releaseHomes(node: NodeIdentity): Promise<void> {
    for (const entry of this.#rooms.values()) if (entry.value.home?.node === node.id) this.#rehome(entry, null); // null: released
    this.#leases.delete(node.id);
    if (this.#names.get(node.name) === node.id) this.#names.delete(node.name);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#rooms.clear();
    this.#records.clear();
    this.#leases.clear();
    this.#names.clear();
    this.#talk.clear();
  }
}
