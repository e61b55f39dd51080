import { ProtocolFailure } from '@group-room/shared';
import { claimHome, homeOf, type NodeIdentity } from '../room/homes.js';
import type { RoomStore } from '../store/room-store.js';

export type Whereabouts = 'here' | 'missing' | { elsewhere: string };

/**
 * Which node serves a room. Every room has one home node at a time, recorded in its state
 * (so the claim is the store's atomic update) and held while that node's heartbeat lives:
 * its routers, its sockets and its turn timers are there. A node asked about a room takes it
 * when nobody live holds it, and otherwise names the node that does.
 */
export class RoomHomes {
  readonly #store: RoomStore;
  readonly #node: NodeIdentity;

  constructor(store: RoomStore, node: NodeIdentity) {
    this.#store = store;
    this.#node = node;
  }

  get node(): NodeIdentity {
    return this.#node;
  }

  /** Take the room if nobody live holds it; say where it is served. */
  async claim(roomId: string): Promise<Whereabouts> {
    const live = await this.#store.liveNodes();
    live.add(this.#node.id);
    try {
      const state = await this.#store.update(roomId, claimHome(this.#node, live));
      const where = homeOf(state, this.#node.id, live);
      return where === 'orphaned' ? 'here' : where;
    } catch (error) {
      if (error instanceof ProtocolFailure && error.code === 'NOT_FOUND') return 'missing';
      throw error;
    }
  }
}
