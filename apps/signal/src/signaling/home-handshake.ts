import { ConnectQuery, type ConnectRefusal } from '@group-room/shared';
import type { Socket } from 'socket.io';
import { LiveRoom } from '../live/live-room.js';
import type { LiveRooms } from '../live/live-rooms.js';

/** How often a held handshake asks again whether the home's lease has lapsed. */
const HOLD_POLL_MS = 250;

/**
 * Socket.IO middleware: a room's sockets are all served by its home node. It only reads (a
 * handshake comes before anything of the client's is checked): a room is taken on enter or
 * resume (LiveRooms.home), never here. A connection for a room another node holds is refused
 * with that node's name, and the client connects again with it as a hint (`?node=`) the proxy
 * routes by (see infra/README.md). The hint decides nothing: a room is taken from its home
 * only once the home's lease has lapsed. But a client that named the home and was sent here
 * anyway tells us the proxy found the home down, so its handshake is held (up to a lease
 * period) while the lease runs out, instead of refused and retried with backoff: it is let in
 * as soon as the room may move here, and its resume takes the room. As soon as the home is
 * seen renewing its lease (the time it has left grows), it is alive: the client is sent back
 * to it at once.
 */
export function homeHandshake(rooms: LiveRooms, leaseMs: number) {
  return (socket: Socket, next: (error?: Error) => void): void => {
    const query = ConnectQuery.safeParse(socket.handshake.query);
    const room = query.success ? query.data.room : undefined;
    if (!room) return next();
    const hinted = query.success ? query.data.node : undefined;
    const deadline = Date.now() + leaseMs + HOLD_POLL_MS;
    /** The home's lease as last seen: what it had left, and when. */
    let seen: { left: number; at: number } | undefined;
    const attempt = (): void => {
      rooms.locate(room).then(
        (where) => {
          if (where === 'missing' || where === 'open' || where instanceof LiveRoom) return next();
          const now = Date.now();
          const left = where.leaseLeftMs ?? 0;
          const renewed = seen !== undefined && left > seen.left - (now - seen.at) + HOLD_POLL_MS;
          seen = { left, at: now };
          const downThere = hinted === where.elsewhere && !renewed && now < deadline && socket.conn.readyState === 'open';
          if (downThere) {
            setTimeout(attempt, HOLD_POLL_MS).unref();
            return;
          }
          const refusal: ConnectRefusal = { code: 'ELSEWHERE', node: where.elsewhere };
          next(Object.assign(new Error('This session is served by another node'), { data: refusal }));
        },
        // This node has lost its lease: it serves no room now, so the client tries again (the
        // proxy, finding this node not ready, sends it elsewhere). The store merely blipped: let
        // the connection in, its requests will say so.
        () => next(rooms.serving ? undefined : new Error('This server cannot serve sessions right now')),
      );
    };
    attempt();
  };
}
