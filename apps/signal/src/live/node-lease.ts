import type { Logger } from '../logger.js';
import { NameInUse, type NodeIdentity, type RoomStore } from '../store/room-store.js';

/** How long a node's lease lives in the store after each renewal (by the store's clock). */
export const LEASE_MS = 5000;
/** How often it is renewed. */
export const RENEW_EVERY_MS = 1000;
/**
 * A node stops acting this long before its lease could lapse in the store: the store's clock
 * starts the lease when the renewal arrives, after this node sent it, so this node's own
 * deadline (sent + lease − margin) always comes first, whatever the round trip took.
 */
export const LEASE_MARGIN_MS = 1000;

export interface NodeLeaseOptions {
  leaseMs?: number;
  renewEveryMs?: number;
  marginMs?: number;
  /** The lease can no longer be proven: let go of every room now. */
  onLost: () => void;
  log: Logger;
  now?: () => number;
}

/**
 * This node's lease on its rooms (one lease per node, so renewing costs one write a second
 * however many rooms it holds; each room's fence names the node). The node acts for a room
 * only while `valid()`: until its last successful renewal's send time plus the lease minus a
 * margin. When that passes without a renewal it calls `onLost` once, and the node releases
 * every room on its own. `steady()` says whether the store has answered every renewal for a
 * whole lease period: only then may this node take rooms whose lease lapsed, so that after an
 * outage their holders have had a full lease period, from when the store came back, to renew.
 */
export class NodeLease {
  readonly #store: RoomStore;
  readonly #node: NodeIdentity;
  readonly #leaseMs: number;
  readonly #renewEveryMs: number;
  readonly #marginMs: number;
  readonly #options: NodeLeaseOptions;
  readonly #now: () => number;
  #validUntil = 0;
  /** Since when every renewal has succeeded (undefined after a failure, until the next success). */
  #steadySince: number | undefined;
  #lost = false;
  #stopped = false;
  #renewing = false;
  #timer: NodeJS.Timeout | undefined;
  #watch: NodeJS.Timeout | undefined;

  constructor(store: RoomStore, node: NodeIdentity, options: NodeLeaseOptions) {
    this.#store = store;
    this.#node = node;
    this.#options = options;
    this.#leaseMs = options.leaseMs ?? LEASE_MS;
    this.#renewEveryMs = options.renewEveryMs ?? RENEW_EVERY_MS;
    this.#marginMs = options.marginMs ?? LEASE_MARGIN_MS;
    // A monotonic clock: a wall-clock step (NTP) must not stretch the lease.
    this.#now = options.now ?? (() => performance.now());
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  /**
   * Take the lease (throws if the store cannot be reached), then renew it on a timer of its own.
   * A node restarted under the same name waits here until its predecessor's lease has lapsed
   * (two live nodes never share a name); another live node with this name makes start-up fail.
   */
  async start(): Promise<void> {
    const giveUp = this.#now() + this.#leaseMs + this.#renewEveryMs;
    for (;;) {
      try {
        await this.#renew(true);
        break;
      } catch (error) {
        if (!(error instanceof NameInUse) || this.#now() > giveUp) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    // A node just started cannot know whether the store just came back: it waits a lease
    // period before it takes lapsed rooms, like any node after an outage.
    this.#timer = setInterval(() => void this.#renew(false), this.#renewEveryMs);
    this.#timer.unref();
    // Checked often, so the rooms go well before the store could let another node take them;
    // and once lost, renewed as often, so the node serves again within moments of the store's
    // return (a call while the store is unreachable fails at once, without touching the network).
    this.#watch = setInterval(() => {
      if (this.#lost && !this.#stopped) void this.#renew(false);
      else this.#check();
    }, Math.min(250, this.#renewEveryMs));
    this.#watch.unref();
  }

  /** Whether this node may act for its rooms now. */
  valid(): boolean {
    return !this.#lost && this.#now() < this.#validUntil;
  }

  /** Whether the store has answered every renewal for a whole lease period. */
  steady(): boolean {
    return this.#steadySince !== undefined && this.#now() - this.#steadySince >= this.#leaseMs && this.valid();
  }

  async #renew(first: boolean): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    const sentAt = this.#now();
    try {
      await this.#store.renewLease(this.#node, this.#leaseMs);
      if (this.#stopped) return; // a renewal that was in flight when the node stopped counts for nothing
      this.#validUntil = Math.max(this.#validUntil, sentAt + this.#leaseMs - this.#marginMs);
      this.#steadySince ??= sentAt;
      if (this.#lost) {
        this.#lost = false;
        this.#options.log.info('node lease renewed again');
      }
    } catch (error) {
      if (this.#steadySince !== undefined) this.#options.log.warn('node lease not renewed', { error: error instanceof Error ? error.message : String(error) });
      this.#steadySince = undefined;
      if (first) throw error;
    } finally {
      this.#renewing = false;
    }
    this.#check();
  }

  #check(): void {
    if (this.#lost || this.#now() < this.#validUntil) return;
    this.#lost = true;
    this.#options.log.warn('node lease lapsed: letting go of every room served here');
    this.#options.onLost();
  }

  /** Stop renewing (the node is stopping; it releases its rooms itself). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearInterval(this.#watch);
    this.#lost = true;
  }
}
