import { ProtocolFailure, type Acknowledgement } from '@group-room/shared';
import { createClient, ErrorReply, type RedisClientType } from 'redis';
import type { Logger } from '../logger.js';
import type { RoomChange, RoomState } from '../room/state.js';
import { freezeDeep } from './frozen.js';
import { CLAIM, COMPARE_AND_SET, CREATE, END, FIND_HOME, LAPSED, RELEASE, RENEW, SAVE_TALK, TAKE_RECORD } from './redis-scripts.js';
import { LeaseLost, NameInUse, serverFull, type Claim, type Fence, type HomeSighting, type KeptRecord, type NodeIdentity, type RoomStore, type RoomTtl, type TalkTally } from './room-store.js';

/*
 * A room is one Redis hash {version, doc, home, homeName, fence}. Updates are optimistic: read,
 * apply the pure change, then write with a compare-and-set script that checks the version and
 * the writer's fence, retrying on a concurrent write. Every write refreshes the key's TTL so
 * nothing outlives a session long. Ending a session replaces the room with its
 * acknowledgement record, under its own TTL, until its facilitator takes it (TAKE_RECORD: read
 * and deleted in one step).
 *
 * Homes (see RoomStore.claimHome): each node renews a lease key `node:<id>` (PX, so Redis's own
 * clock decides when it lapses) and is listed in the sorted set `nodes` by when its lease ends;
 * `homed:<id>` is the set of rooms it holds. The room's `home`/`fence` fields change only in
 * CLAIM and RELEASE. A node's sweep reads its own set and, through LAPSED, the sets of nodes
 * whose lease ended: never every room. (The scripts build these key names from the prefix, so
 * they need one Redis, not a cluster.)
 *
 * When Redis is down or slow, every call fails fast with UNAVAILABLE instead of waiting:
 * nothing is queued while the connection is down (node-redis's offline queue is off, and
 * the store refuses calls itself while the client is not ready), and each call has a
 * deadline. node-redis reconnects by itself, for ever; the first call after it is back works.
 * The outage and the recovery are logged once each, with the socket error's code only.
 */

const MAX_ATTEMPTS = 50;

/** A stored acknowledgement record (one kept before the generation was stored is a bare list, of generation 0). */
function keptRecord(doc: string): KeptRecord {
  const stored = JSON.parse(doc) as KeptRecord | Acknowledgement[];
  return Array.isArray(stored) ? { acknowledgements: stored, facilitatorLinkGeneration: 0 } : stored;
}

/** Longest one Redis call may take before it fails with UNAVAILABLE. */
export const DEFAULT_REDIS_CALL_TIMEOUT_MS = 2000;
/** Reconnect attempts back off up to this, so a Redis that is back is found again within about a second. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** Replies by which a reachable Redis says it cannot serve now (loading its data, a busy script, read-only, …). */
const TRANSIENT_REPLIES = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY|MISCONF|OOM|NOREPLICAS)\b/;

export interface RedisRoomStoreOptions {
  url: string;
  /** Prefix of every key. */
  prefix: string;
  ttl: RoomTtl;
  /** Told when Redis becomes unreachable and when it is back (never keys, values or room contents). */
  log: Logger;
  /** Longest one Redis call may take (default 2000 ms). */
  callTimeoutMs?: number;
  /** Live rooms all nodes together may hold (MAX_ROOMS); unlimited when absent. */
  maxRooms?: number;
  /** Told of every call that failed for want of Redis (for the metrics). */
  onFailure?: () => void;
}

const unavailable = () => new ProtocolFailure('UNAVAILABLE', "The session's data cannot be reached right now. Try again in a moment.");

/** What may be logged of a connection error: its code or its kind, never anything it was about. */
function errorCode(error: unknown): string {
  if (error instanceof ErrorReply) return error.message.split(' ', 1)[0] ?? 'ERROR';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (error instanceof Error) return error.constructor.name !== 'Error' ? error.constructor.name : error.name;
  return 'unknown';
}

class CallTimeout extends Error {
  readonly code = 'CALL_TIMEOUT';
}

export class RedisRoomStore implements RoomStore {
  readonly #client: RedisClientType;
  readonly #prefix: string;
  readonly #ttl: RoomTtl;
  readonly #log: Logger;
  readonly #callTimeoutMs: number;
  readonly #maxRooms: number;
  readonly #onFailure: () => void;
  /** As last seen: false from the first connection error (or timed-out call) until it works again. */
  #reachable = true;
  #closed = false;

  private constructor(options: RedisRoomStoreOptions) {
    this.#prefix = options.prefix;
    this.#maxRooms = options.maxRooms ?? Number.MAX_SAFE_INTEGER;
    this.#onFailure = options.onFailure ?? (() => undefined);
    this.#ttl = options.ttl;
    this.#log = options.log;
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_REDIS_CALL_TIMEOUT_MS;
    this.#client = createClient({
      url: options.url,
      // Fail a call at once while reconnecting rather than keep it for later.
      disableOfflineQueue: true,
      // A call not yet sent when its time is up is dropped (never sent later).
      commandOptions: { timeout: this.#callTimeoutMs },
      socket: {
        connectTimeout: this.#callTimeoutMs,
        // Always a number: never give up (false would close the client for good).
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100),
      },
    });
    // Without a listener an 'error' event would crash the process. node-redis emits one per
    // failed attempt while reconnecting; the log says it once.
    this.#client.on('error', (error: unknown) => this.#unreachable(error));
    this.#client.on('ready', () => this.#reachableAgain());
  }

  static async connect(options: RedisRoomStoreOptions): Promise<RedisRoomStore> {
    const store = new RedisRoomStore(options);
    await store.#client.connect();
    return store;
  }

  #unreachable(error: unknown): void {
    if (!this.#reachable || this.#closed) return;
    this.#reachable = false;
    this.#log.warn('redis unavailable', { error: errorCode(error) });
  }

  #reachableAgain(): void {
    if (this.#reachable || this.#closed) return;
    this.#reachable = true;
    this.#log.info('redis reachable again');
  }

  /**
   * One Redis call, bounded: UNAVAILABLE when the client is not connected, the call takes
   * longer than the deadline, the connection fails under it, or Redis says it cannot serve
   * now. Other error replies (a bug of ours) are passed on as they are.
   */
  async #call<T>(run: (client: RedisClientType) => Promise<T>): Promise<T> {
    // Also covers MULTI, which node-redis would otherwise keep until it reconnects.
    if (!this.#client.isReady) {
      this.#onFailure();
      throw unavailable();
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallTimeout()), this.#callTimeoutMs);
      timer.unref();
    });
    try {
      // A call that loses the race is abandoned; race has already handled its outcome.
      const result = await Promise.race([run(this.#client), deadline]);
      this.#reachableAgain();
      return result;
    } catch (error) {
      if (error instanceof ErrorReply && !TRANSIENT_REPLIES.test(error.message)) throw error;
      this.#onFailure();
      this.#unreachable(error);
      throw unavailable();
    } finally {
      clearTimeout(timer);
    }
  }

  key(roomId: string): string {
    return `${this.#prefix}room:${roomId}`;
  }

  recordKey(roomId: string): string {
    return `${this.#prefix}acknowledgements:${roomId}`;
  }

  /** The index of live rooms (ids only), kept by CREATE, end and delete. */
  get #index(): string {
    return `${this.#prefix}rooms`;
  }

  async create(room: RoomState): Promise<boolean> {
    const args = [String(room.version), JSON.stringify({ ...room, home: undefined }), String(this.#ttl(room)), String(this.#maxRooms), room.id];
    const created = await this.#call((client) => client.eval(CREATE, { keys: [this.key(room.id), this.#index], arguments: args }));
    if (created === -2) throw serverFull();
    return created === 1;
  }

  async get(roomId: string): Promise<RoomState | null> {
    const [doc, home, name, fence] = await this.#call((client) => client.hmGet(this.key(roomId), ['doc', 'home', 'homeName', 'fence']));
    if (!doc) return null;
    const state = JSON.parse(doc) as RoomState;
    delete state.home;
    if (home) state.home = { node: home, name: name ?? '', fence: Number(fence ?? 0) };
    // Read-only, as the in-memory store's: a change given it must return a new state.
    return freezeDeep(state);
  }

  /** The writer's arguments and lease key for a fenced script. */
  #writer(writer: Fence | undefined): { key: string; args: [string, string] } {
    return writer ? { key: this.nodeKey(writer.node), args: [writer.node, String(writer.fence)] } : { key: this.nodeKey(''), args: ['', ''] };
  }

  async update(roomId: string, change: RoomChange, writer?: Fence, known?: RoomState): Promise<RoomState> {
    const fenced = this.#writer(writer);
    // The home's latest state saves reading (and parsing) the doc: the compare-and-set below
    // still refuses it if it is old. Only a frozen one: it is never changed after this.
    let assumed = known !== undefined && known.id === roomId && Object.isFrozen(known);
    let current = assumed ? known! : await this.get(roomId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (!current) throw new ProtocolFailure('NOT_FOUND', 'No such room');
      let next: RoomState;
      try {
        next = change(current);
      } catch (error) {
        // A refusal judged on a state that may be old (a write whose answer was lost) is judged again on the stored one.
        if (!assumed) throw error;
        next = current;
      }
      if (next === current) {
        // Nothing to write (or refused), judged on a state that may be old: only a fresh read may say so.
        if (!assumed) return current;
        assumed = false;
        current = await this.get(roomId);
        continue;
      }
      // The home lives in fields of its own, never in the document a change writes.
      const { home: _home, ...rest } = next;
      const stored: RoomState = { ...rest, ...(current.home ? { home: current.home } : {}), version: current.version + 1 };
      const doc = JSON.stringify({ ...rest, version: stored.version });
      const args = [...fenced.args, String(current.version), String(stored.version), doc, String(this.#ttl(stored))];
      const outcome = await this.#call((client) => client.eval(COMPARE_AND_SET, { keys: [this.key(roomId), fenced.key], arguments: args }));
      // Frozen: only what the change made new is walked (the rest is `current`'s, frozen already).
      if (outcome === 1) return freezeDeep(stored);
      if (outcome === -1) throw new ProtocolFailure('NOT_FOUND', 'No such room');
      if (outcome === -3) throw new LeaseLost();
      // outcome 0: someone else wrote first (or `known` was old); re-read and apply the change to the stored state.
      assumed = false;
      current = await this.get(roomId);
    }
    throw new ProtocolFailure('INTERNAL', 'The room is too busy; try again');
  }

  async end(roomId: string, retentionSeconds: number, writer?: Fence): Promise<Acknowledgement[] | null> {
    const state = await this.get(roomId);
    if (!state) return null;
    // An ended room accepts no more changes, so nothing can slip in between read and delete.
    const fenced = this.#writer(writer);
    const keys = [this.key(roomId), fenced.key, this.recordKey(roomId), this.talkKey(roomId), this.#index];
    const record: KeptRecord = { acknowledgements: state.acknowledgements, facilitatorLinkGeneration: state.facilitatorLinkGeneration ?? 0 };
    const args = [...fenced.args, JSON.stringify(record), String(retentionSeconds), roomId, this.#prefix];
    const outcome = await this.#call((client) => client.eval(END, { keys, arguments: args }));
    if (outcome === -3) throw new LeaseLost();
    // The record is the caller's (the state it came from is frozen): once per session, not per change.
    return outcome === 1 ? structuredClone(state.acknowledgements) : null;
  }

  talkKey(roomId: string): string {
    return `${this.#prefix}talk:${roomId}`;
  }

  async saveTalk(roomId: string, tally: TalkTally, writer: Fence): Promise<void> {
    const fenced = this.#writer(writer);
    const outcome = await this.#call((client) =>
      client.eval(SAVE_TALK, { keys: [this.key(roomId), fenced.key, this.talkKey(roomId)], arguments: [...fenced.args, JSON.stringify(tally)] }),
    );
    if (outcome === -3) throw new LeaseLost();
  }

  async loadTalk(roomId: string): Promise<TalkTally | null> {
    const tally = await this.#call((client) => client.get(this.talkKey(roomId)));
    return tally ? (JSON.parse(tally) as TalkTally) : null;
  }

  async acknowledgementRecord(roomId: string): Promise<Acknowledgement[] | null> {
    const record = await this.#call((client) => client.get(this.recordKey(roomId)));
    return record ? keptRecord(record).acknowledgements : null;
  }

  async takeAcknowledgements(roomId: string, linkGeneration: number | null): Promise<Acknowledgement[] | null> {
    const args = [linkGeneration === null ? '' : String(linkGeneration)];
    const record = await this.#call((client) => client.eval(TAKE_RECORD, { keys: [this.recordKey(roomId)], arguments: args }));
    return typeof record === 'string' ? keptRecord(record).acknowledgements : null;
  }

  async delete(roomId: string): Promise<void> {
    await this.#call((client) => client.multi().del(this.key(roomId)).del(this.talkKey(roomId)).zRem(this.#index, roomId).exec());
  }

  nodeKey(nodeId: string): string {
    return `${this.#prefix}node:${nodeId}`;
  }

  homedKey(nodeId: string): string {
    return `${this.#prefix}homed:${nodeId}`;
  }

  get #nodes(): string {
    return `${this.#prefix}nodes`;
  }

  /** Rooms a node released when it stopped, until another takes them. */
  get #released(): string {
    return `${this.#prefix}released`;
  }

  async roomIds(): Promise<string[]> {
    return this.#scan(this.key('*'), this.key(''));
  }

  async renewLease(node: NodeIdentity, ttlMs: number): Promise<void> {
    const keys = [this.nodeKey(node.id), this.#nodes, `${this.#prefix}name:${node.name}`];
    const renewed = await this.#call((client) => client.eval(RENEW, { keys, arguments: [node.name, String(ttlMs), node.id, this.#prefix] }));
    if (renewed !== 1) throw new NameInUse(node.name);
  }

  async claimHome(roomId: string, node: NodeIdentity, options: { takeLapsed: boolean }): Promise<Claim> {
    const keys = [this.key(roomId), this.nodeKey(node.id), this.homedKey(node.id)];
    const args = [node.id, node.name, options.takeLapsed ? '1' : '0', roomId, this.#prefix];
    const [kind, detail = '', left = '0'] = (await this.#call((client) => client.eval(CLAIM, { keys, arguments: args }))) as string[];
    switch (kind) {
      case 'here':
      case 'taken':
        return { kind: 'here', fence: { node: node.id, fence: Number(detail) }, taken: kind === 'taken' };
      case 'elsewhere':
        return { kind, name: detail, leaseLeftMs: Number(left) };
      case 'lapsed':
        return { kind, name: detail };
      case 'missing':
      case 'unleased':
        return { kind };
      default:
        throw new Error(`unexpected claim outcome ${String(kind)}`);
    }
  }

  async findHome(roomId: string): Promise<HomeSighting> {
    const reply = (await this.#call((client) => client.eval(FIND_HOME, { keys: [this.key(roomId)], arguments: [this.#prefix] }))) as string[];
    const [kind, node = '', name = '', left = '0'] = reply;
    if (kind === 'missing' || kind === 'none') return { kind };
    if (kind === 'home') return { kind, node, name, leaseLeftMs: Math.max(0, Number(left)) };
    throw new Error(`unexpected home sighting ${String(kind)}`);
  }

  async heldRooms(nodeId: string): Promise<string[]> {
    return this.#call((client) => client.sMembers(this.homedKey(nodeId)));
  }

  async lapsedRooms(limit: number): Promise<string[]> {
    return (await this.#call((client) => client.eval(LAPSED, { keys: [this.#nodes, this.#released], arguments: [this.#prefix, String(limit)] }))) as string[];
  }

  async releaseHomes(node: NodeIdentity): Promise<void> {
    const keys = [this.homedKey(node.id), this.nodeKey(node.id), this.#nodes, this.#released, `${this.#prefix}name:${node.name}`];
    await this.#call((client) => client.eval(RELEASE, { keys, arguments: [node.id, this.#prefix] }));
  }

  /** The ids after `prefix` of every key matching `pattern` (SCAN: never blocks Redis; each step bounded). */
  async #scan(pattern: string, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor = '0';
    do {
      const reply = await this.#call((client) => client.scan(cursor, { MATCH: pattern, COUNT: 500 }));
      for (const key of reply.keys) ids.push(key.slice(prefix.length));
      cursor = reply.cursor;
    } while (cursor !== '0');
    return ids;
  }

  async ping(): Promise<void> {
    await this.#call((client) => client.ping());
  }

  /** Close the connection: at once if Redis is unreachable, else after the calls in flight (at most the deadline). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    if (!client.isReady) {
      client.unref(); // also any socket a reconnection attempt under way still opens
      if (client.isOpen) client.destroy();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      client.close().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.#callTimeoutMs))),
    ]);
    clearTimeout(timer);
    // Redis stopped answering with calls in flight: do not let their socket hold the process.
    if (!closed) client.unref();
  }
}
