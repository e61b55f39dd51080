import { z } from 'zod';
import { RoomId } from './domain.js';

/*
 * What a client says when it connects, and why a connection can be refused before any
 * request. A room page connects with its room in the handshake's query; with several
 * signalling nodes behind one address, the node that receives it either serves the room (it
 * is the room's home) or refuses with the home's name, and the client connects again with that
 * name as a hint the proxy routes by.
 */

/** A signalling node's routing name (NODE_NAME), as the proxy knows it. */
export const NodeName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/);
export type NodeName = z.infer<typeof NodeName>;

/** The Socket.IO handshake query: the room this connection is for, and the node to try first. */
export const ConnectQuery = z.object({ room: RoomId.optional(), node: NodeName.optional() });
export type ConnectQuery = z.infer<typeof ConnectQuery>;

/** `connect_error` data: the room lives on another node (connect again with `node` as the hint). */
export const ConnectRefusal = z.object({ code: z.literal('ELSEWHERE'), node: NodeName });
export type ConnectRefusal = z.infer<typeof ConnectRefusal>;
