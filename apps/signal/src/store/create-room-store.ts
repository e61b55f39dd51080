import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { MemoryRoomStore } from './memory-room-store.js';
import { RedisRoomStore } from './redis-room-store.js';
import { roomTtl, type RoomStore } from './room-store.js';

/** Redis when REDIS_URL is set, else in memory (the embedded default). */
export async function createRoomStore(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'ROOM_GRACE_SECONDS' | 'MAX_ROOMS'>,
  log: Logger,
  onFailure?: () => void,
): Promise<RoomStore> {
  const ttl = roomTtl(config.ROOM_GRACE_SECONDS);
  if (config.REDIS_URL) return RedisRoomStore.connect({ url: config.REDIS_URL, prefix: config.REDIS_KEY_PREFIX, ttl, log, maxRooms: config.MAX_ROOMS, onFailure });
  return new MemoryRoomStore(ttl, config.MAX_ROOMS);
}
