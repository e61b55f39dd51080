export * from './acknowledgement-record.js';
export * from './checkout.js';
export * from './commands.js';
export * from './connection.js';
export * from './domain.js';
export * from './e2ee-relay.js';
export * from './errors.js';
export * from './events.js';
export * from './floor.js';
export * from './media-params.js';
export * from './requests.js';
export * from './room.js';
export * from './signals.js';
export type * from './socket-types.js';

/** Largest Socket.IO message the server accepts; WebRTC parameters fit well inside it. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
