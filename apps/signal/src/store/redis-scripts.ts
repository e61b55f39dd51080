/*
 * The Lua scripts of the Redis room store (redis-room-store.ts), each one atomic in Redis.
 * Keys: `room:<id>` (hash: version, doc, home, homeName, fence), `rooms` (live room ids by
 * expiry), `talk:<id>`, `acknowledgements:<id>`, `node:<id>` (a node's lease), `name:<name>`
 * (which node holds a name), `nodes` (node ids by lease expiry), `homed:<id>` (a node's rooms),
 * `released` (rooms a stopped node let go). Scripts that follow a node's or room's id build
 * those key names from the prefix, so they need one Redis, not Redis Cluster.
 */

/** The writer check every fenced script starts with: -3 when the writer does not hold the room. */
const WRITER_CHECK = `
local home = redis.call('HGET', KEYS[1], 'home')
if ARGV[1] ~= '' then
  if home ~= ARGV[1] or redis.call('HGET', KEYS[1], 'fence') ~= ARGV[2] or redis.call('EXISTS', KEYS[2]) == 0 then return -3 end
elseif home and home ~= '' then return -3 end`;

/** KEYS room, node:<writer>; ARGV writer, fence, version, newVersion, doc, ttl. */
export const COMPARE_AND_SET = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[3] then return 0 end
${WRITER_CHECK}
redis.call('HSET', KEYS[1], 'version', ARGV[4], 'doc', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1`;

/*
 * KEYS[2] indexes live rooms (id scored by the time its state expires), so the room count is
 * checked and taken in one step: racing creations on any number of nodes cannot pass it.
 */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ttlMs = tonumber(ARGV[3]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -2 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'doc', ARGV[2], 'fence', '0')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], now + ttlMs, ARGV[5])
if redis.call('PTTL', KEYS[2]) < ttlMs then redis.call('PEXPIRE', KEYS[2], ttlMs) end
return 1`;

/** Talk time lives as long as its room, and only its home writes it. KEYS room, node:<writer>, talk; ARGV writer, fence, tally. */
export const SAVE_TALK = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
${WRITER_CHECK}
redis.call('SET', KEYS[3], ARGV[3], 'PX', ttl)
return 1`;

/** KEYS room, node:<writer>, record, talk, rooms index; ARGV writer, fence, record (JSON), retention, room id, prefix. */
export const END = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
${WRITER_CHECK}
if home and home ~= '' then redis.call('SREM', ARGV[6] .. 'homed:' .. home, ARGV[5]) end
redis.call('SREM', ARGV[6] .. 'released', ARGV[5])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[5])
return 1`;

/**
 * KEYS record; ARGV the asker's facilitator link generation ('' for any). The record is handed
 * out and deleted in one step (so once), and only to its generation: for another, nothing is
 * returned and it stays. A record stored as a bare list (before it had a generation) is of 0.
 */
export const TAKE_RECORD = `
local doc = redis.call('GET', KEYS[1])
if not doc then return false end
if ARGV[1] ~= '' then
  local ok, record = pcall(cjson.decode, doc)
  local generation = 0
  if ok and type(record) == 'table' and type(record['facilitatorLinkGeneration']) == 'number' then generation = record['facilitatorLinkGeneration'] end
  if generation ~= tonumber(ARGV[1]) then return false end
end
redis.call('DEL', KEYS[1])
return doc`;

/**
 * KEYS node:<id>, nodes, name:<name>; ARGV name, ttl ms, id, prefix. The lease lapses by Redis's
 * clock; it also holds the node's name, refused (0) while another node with a live lease has it.
 */
export const RENEW = `
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[3] and redis.call('EXISTS', ARGV[4] .. 'node:' .. holder) == 1 then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

/** KEYS room, node:<me>, homed:<me>; ARGV me, my name, take lapsed ('1'), room id, prefix. */
export const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[4])
  return {'missing'}
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'unleased'} end
local home = redis.call('HGET', KEYS[1], 'home')
local fence = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if home == ARGV[1] then return {'here', tostring(fence)} end
if home and home ~= '' then
  local name = redis.call('HGET', KEYS[1], 'homeName') or ''
  if name ~= ARGV[2] then
    local left = redis.call('PTTL', ARGV[5] .. 'node:' .. home)
    if left > 0 then return {'elsewhere', name, tostring(left)} end
    if ARGV[3] ~= '1' then return {'lapsed', name} end
  end
  redis.call('SREM', ARGV[5] .. 'homed:' .. home, ARGV[4])
end
fence = fence + 1
redis.call('HSET', KEYS[1], 'home', ARGV[1], 'homeName', ARGV[2], 'fence', tostring(fence))
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('SREM', ARGV[5] .. 'released', ARGV[4])
return {'taken', tostring(fence)}`;

/** KEYS room; ARGV prefix. Read only: the room's home and how long its node's lease has left. */
export const FIND_HOME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local home = redis.call('HGET', KEYS[1], 'home')
if not home or home == '' then return {'none'} end
local name = redis.call('HGET', KEYS[1], 'homeName') or ''
return {'home', home, name, tostring(redis.call('PTTL', ARGV[1] .. 'node:' .. home))}`;

/**
 * KEYS nodes, released; ARGV prefix, limit. Rooms of nodes whose lease ended, and rooms released
 * by nodes that stopped cleanly; ids whose room is gone are dropped from the sets, and a node
 * with none left is forgotten.
 */
export const LAPSED = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[2])
local rooms = {}
local function take(set)
  for _, room in ipairs(redis.call('SRANDMEMBER', set, limit)) do
    if redis.call('EXISTS', ARGV[1] .. 'room:' .. room) == 1 then rooms[#rooms + 1] = room
    else redis.call('SREM', set, room) end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 20)) do
  if redis.call('EXISTS', ARGV[1] .. 'node:' .. id) == 0 then
    take(ARGV[1] .. 'homed:' .. id)
    if redis.call('SCARD', ARGV[1] .. 'homed:' .. id) == 0 then redis.call('ZREM', KEYS[1], id) end
  end
end
take(KEYS[2])
return rooms`;

/** KEYS homed:<me>, node:<me>, nodes, released, name:<my name>; ARGV me, prefix. Released rooms stay listed until a node takes them. */
export const RELEASE = `
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. 'room:' .. room
  if redis.call('HGET', key, 'home') == ARGV[1] then
    redis.call('HSET', key, 'home', '', 'homeName', '')
    redis.call('SADD', KEYS[4], room)
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`;
