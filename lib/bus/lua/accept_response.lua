-- The manager accepts the response recorded for the next turn, counts the
-- turn and (unless the run stops here) routes the next request, in one step.
--
-- KEYS[1]  meta hash
-- KEYS[2]  answered hash (turn -> response entry id)
-- KEYS[3]  routed hash (turn -> request entry id)
-- KEYS[4]  request stream of the agent that speaks next
-- ARGV[1]  turn of the response (sequence number)
-- ARGV[2]  entry id of the response
-- ARGV[3]  "1" to route the next request, "0" when the run stops at this turn
-- ARGV[..] field/value pairs of the next request entry
-- Output:  {"accepted", next request id or ""}
--          | {"duplicate", ""}   (this very response was accepted before)
--          | {"not_recorded", ""} (not the response recorded for the turn)
--          | {"out_of_order", turns} (not the next turn)
--          | {"not_running", status}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then return {'not_running', status or ''} end
local seq = tonumber(ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return {'not_recorded', ''} end
local turns = tonumber(redis.call('HGET', KEYS[1], 'turns') or '0')
if seq <= turns then return {'duplicate', ''} end
if seq ~= turns + 1 then return {'out_of_order', tostring(turns)} end
redis.call('HSET', KEYS[1], 'turns', ARGV[1])
if ARGV[3] ~= '1' then return {'accepted', ''} end
local next = tostring(seq + 1)
local existing = redis.call('HGET', KEYS[3], next)
if existing then return {'accepted', existing} end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[4], '*', unpack(fields))
redis.call('HSET', KEYS[3], next, id)
return {'accepted', id}
