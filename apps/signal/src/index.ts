export { loadConfig, ConfigSchema, type Config } from './config.js';
export { createLogger, type Logger } from './logger.js';
export { startSignalServer, type SignalServer } from './server.js';
export type { RoomStore } from './store/room-store.js';
export { MemoryRoomStore } from './store/memory-room-store.js';
export { RedisRoomStore } from './store/redis-room-store.js';
export { KEY_GUESSES } from './auth/room-creation.js';
export type { RunOptions } from './live/room-queue.js';
export { LeaseLost, type Fence } from './store/room-store.js';
