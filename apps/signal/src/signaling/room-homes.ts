import { ProtocolFailure } from '@group-room/shared';
import { claimHome, homeOf, type NodeIdentity } from '../room/homes.js';
import type { RoomStore } from '../store/room-store.js';

export type Whereabouts = 'here' | 'missing' | { elsewhere: string };

const LIVE_NODES_CACHE_MS = 1000;

/**
 * Which node serves a room. Every room has one home node at a time, recorded in its state
 * (so the claim is the store's atomic update) and held while that node's heartbeat lives:
 * its routers, its sockets and its turn timers are there. A node asked about a room takes it
 * when nobody live holds it, and otherwise names the node that does.
 */
export class RoomHomes {
  readonly #store: RoomStore;
  readonly #node: NodeIdentity;
  #live: { at: number; nodes: Promise<Set<string>> } | undefined;

  constructor(store: RoomStore, node: NodeIdentity) {
    this.#store = store;
    this.#node = node;
  }

  /**
   * The live nodes, read at most once a second: every handshake naming a room asks, and the
   * answer changes only when a node starts or stops.
   */
  async #liveNodes(fresh = false): Promise<Set<string>> {
    const now = Date.now();
    if (fresh || !this.#live || now - this.#live.at > LIVE_NODES_CACHE_MS) this.#live = { at: now, nodes: this.#store.liveNodes() };
    const nodes = new Set(await this.#live.nodes.catch((error: unknown) => {
      this.#live = undefined;
      throw error;
    }));
    nodes.add(this.#node.id);
    return nodes;
  }

  /**
   * Take the room if nobody live holds it; say where it is served. `asked`: the node the
   * client asked the proxy for (its `node` hint); if that is the room's home and the proxy sent
   * the client here instead, the proxy found it down, and this node takes the room over.
   */
  async claim(roomId: string, asked?: string): Promise<Whereabouts> {
    const presumedDown = asked !== undefined && asked !== this.#node.name ? asked : undefined;
    const where = await this.#claim(roomId, await this.#liveNodes(), presumedDown);
    // Sending someone elsewhere is rare (a hand-over): check afresh that that node still lives.
    return typeof where === 'object' ? this.#claim(roomId, await this.#liveNodes(true), presumedDown) : where;
  }

  async #claim(roomId: string, live: ReadonlySet<string>, presumedDown: string | undefined): Promise<Whereabouts> {
    try {
      const state = await this.#store.update(roomId, claimHome(this.#node, live, presumedDown));
      const where = homeOf(state, this.#node.id, live);
      return where === 'orphaned' ? 'here' : where;
    } catch (error) {
      if (error instanceof ProtocolFailure && error.code === 'NOT_FOUND') return 'missing';
      throw error;
    }
  }
}
