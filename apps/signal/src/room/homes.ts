import type { RoomChange, RoomState } from './state.js';

export interface NodeIdentity {
  /** This process's id (its heartbeat key). */
  id: string;
  /** Its routing name (NODE_NAME). */
  name: string;
}

/**
 * Make `node` the room's home unless a live node already is: the room has none yet, or its
 * home's heartbeat lapsed (that node died or was cut off), or the home is the node named
 * `presumedDown` (a client asked the proxy for it by name and was sent here instead: the proxy
 * found it down, which it knows within a second, long before its heartbeat lapses). Unchanged (no write) when `node`
 * is already the home or another live node is. Applied with the store's atomic update, two
 * nodes claiming at once cannot both win.
 */
export const claimHome =
  (node: NodeIdentity, liveNodes: ReadonlySet<string>, presumedDown?: string): RoomChange =>
  (state) => {
    const home = state.home;
    const down = home !== undefined && home !== null && home.name === presumedDown && home.node !== node.id;
    if (home && !down && (home.node === node.id || liveNodes.has(home.node))) return state;
    return { ...state, home: { node: node.id, name: node.name } };
  };

/** Whose the room is: this node's, a live other node's (by name), or nobody's live. */
export function homeOf(state: RoomState, nodeId: string, liveNodes: ReadonlySet<string>): 'here' | 'orphaned' | { elsewhere: string } {
  const home = state.home;
  if (!home || !liveNodes.has(home.node)) return home?.node === nodeId ? 'here' : 'orphaned';
  return home.node === nodeId ? 'here' : { elsewhere: home.name };
}
