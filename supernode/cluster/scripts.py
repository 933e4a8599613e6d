"""The Lua scripts of the Redis scheduler store's per-call snapshot (see ``snapshot``).

``SNAPSHOT`` reads at once what the scheduler asks about one task and one client: the client's head, statuses
and running pieces, the task's md5s, meta, in-flight counts and supernode sends, the cluster's ``fetching``
and ``snbusy`` sets with the busy tasks' meta, the state and blacklist of the asking peer and of the peer a
reported piece came from, the record version of the task, and for the pieces the client wants: the number of
holders of each, and for at most ``max_pieces`` of the rarest ones the holders (all up to ``sample``, else
``sample`` drawn by SRANDMEMBER) with those holders' states and their upload servers' loads.

``RELEASE`` and ``PUSH_START`` run inside the call's write pipeline, so two members writing the same counters
or lists at the same moment add up as they do live.
"""

SNAPSHOT = """
local P, T, C, req = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local pids, extra = cjson.decode(ARGV[5]), cjson.decode(ARGV[6])
local K, MAXP, want = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local H, S, SS, HP, SM = {}, {}, {}, {}, {}
local function hmap(key)
  local a, m = redis.call('HGETALL', key), {}
  for i = 1, #a, 2 do m[a[i]] = a[i + 1] end
  H[key] = m
  return m
end
local function smem(key)
  local v = redis.call('SMEMBERS', key)
  S[key] = v
  return v
end
local tk = P .. 't:' .. T .. ':'
hmap(P .. 'c:' .. C .. ':s')
local bits, run = hmap(P .. 'c:' .. C .. ':bits'), hmap(P .. 'c:' .. C .. ':run')
local md5, fl = hmap(tk .. 'md5'), hmap(tk .. 'fl')
hmap(tk .. 'meta'); hmap(tk .. 'sending'); hmap(tk .. 'sent')
smem(P .. 'fetching')
for _, t in ipairs(smem(P .. 'snbusy')) do hmap(P .. 't:' .. t .. ':meta') end
local peers, uplinks = {}, {}
local function peer(pid)
  if peers[pid] == nil then
    peers[pid] = true
    local m = hmap(P .. 'p:' .. pid .. ':s')
    uplinks[m['uplink'] or pid] = true
  end
end
for _, pid in ipairs(pids) do peer(pid) end
if req ~= '' then hmap(P .. 'p:' .. req .. ':bl') end
for _, piece in ipairs(extra) do
  local key = tk .. 'h:' .. piece
  SS[key] = {redis.call('SCARD', key), {}}
  if req ~= '' then SM[#SM + 1] = {key, req, redis.call('SISMEMBER', key, req)} end
end
if want then
  local held = {}
  for piece, _ in pairs(md5) do
    if bits[piece] ~= '1' and run[piece] == nil then
      local key = tk .. 'h:' .. piece
      local n = redis.call('SCARD', key)
      if n == 0 then S[key] = {} else held[#held + 1] = {n + tonumber(fl[piece] or '0'), n, key} end
    end
  end
  table.sort(held, function(a, b) return a[1] < b[1] end)
  for i = 1, #held do
    local n, key = held[i][2], held[i][3]
    local members
    if i > MAXP then
      SS[key] = {n, {}}
    else
      if n <= K then members = smem(key) else members = redis.call('SRANDMEMBER', key, K); SS[key] = {n, members} end
      for _, pid in ipairs(members) do peer(pid) end
    end
  end
end
local ul, names = P .. 'uplinks', {}
for name, _ in pairs(uplinks) do names[#names + 1] = name end
if #names > 0 then
  local vals, m = redis.call('HMGET', ul, unpack(names)), {}
  for i, name in ipairs(names) do m[name] = vals[i] end
  HP[ul] = m
end
return cjson.encode({h = H, s = S, ss = SS, hp = HP, sm = SM, ver = redis.call('GET', tk .. 'ver')})
"""

# release a running piece of a client (the store's _release, atomic): in-flight, the supernode's slot and
# send start, or the source peer's load and its upload server's; returns the source ("" = supernode) or nil
RELEASE = """
local P, cid, task, piece, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local run = P .. 'c:' .. cid .. ':run'
local dst = redis.call('HGET', run, piece)
if not dst or redis.call('HDEL', run, piece) == 0 then return false end
local tk = P .. 't:' .. task .. ':'
if redis.call('HINCRBY', tk .. 'fl', piece, -1) <= 0 then redis.call('HDEL', tk .. 'fl', piece) end
if dst == '' then
  if tonumber(redis.call('HGET', tk .. 'sent', piece) or '0') > 0 then
    if redis.call('HINCRBY', tk .. 'sent', piece, -1) <= 0 then redis.call('HDEL', tk .. 'sent', piece) end
  elseif tonumber(redis.call('HGET', tk .. 'meta', 'superload') or '0') > 0 then
    redis.call('HINCRBY', tk .. 'meta', 'superload', -1)
    redis.call('HSET', tk .. 'meta', 'superload_changed', now)
  end
  local raw = redis.call('HGET', tk .. 'sending', piece)
  if raw then
    local starts = cjson.decode(raw)
    table.remove(starts, 1)
    if #starts > 0 then redis.call('HSET', tk .. 'sending', piece, cjson.encode(starts))
    else redis.call('HDEL', tk .. 'sending', piece) end
  end
  return dst
end
redis.call('SREM', P .. 'p:' .. dst .. ':serving', cid .. '|' .. piece)
local pk = P .. 'p:' .. dst .. ':s'
local v = redis.call('HMGET', pk, 'producer_load', 'uplink')
if tonumber(v[1] or '0') > 0 then
  redis.call('HINCRBY', pk, 'producer_load', -1)
  local up = v[2] or ''
  if redis.call('HINCRBY', P .. 'uplinks', up, -1) <= 0 then redis.call('HDEL', P .. 'uplinks', up) end
end
return dst
"""

# append a supernode send's start time to a piece's list (JSON) in the task's ``sending`` hash
PUSH_START = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local starts = raw and cjson.decode(raw) or {}
starts[#starts + 1] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(starts))
"""

# start a supernode send if the supernode may (the store's start_supernode_send, atomic across members):
# fewer than ARGV[3] sends of the task running (a count unchanged for ARGV[5] s is reset first, as reads of it
# do) and, with ARGV[4] > 0, no send of the piece started in the last ARGV[4] s; then count it, mark the task
# busy and append its start. Returns {load, starts as JSON}, or nil when the supernode may not
CLAIM_SEND = """
local meta, sending, busy = KEYS[1], KEYS[2], KEYS[3]
local piece, now, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local excl, reset = tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', meta, 'superload', 'superload_changed')
local load = tonumber(v[1] or '0') or 0
if load > 0 and now - (tonumber(v[2] or '0') or 0) > reset then load = 0 end
if load < 0 then load = 0 end
if load + 1 > cap then return false end
local raw = redis.call('HGET', sending, piece)
local starts = raw and cjson.decode(raw) or {}
if excl > 0 then
  for _, t in ipairs(starts) do
    if now - tonumber(t) <= excl then return false end
  end
end
starts[#starts + 1] = now
redis.call('HSET', meta, 'superload', load + 1, 'superload_changed', ARGV[2])
redis.call('SADD', busy, ARGV[6])
local enc = cjson.encode(starts)
redis.call('HSET', sending, piece, enc)
return {load + 1, enc}
"""
