-- An agent records its reply to a request, once, and only for the request
-- the manager routed for that turn while the run is running.
--
-- KEYS[1]  meta hash
-- KEYS[2]  routed hash (turn -> request entry id)
-- KEYS[3]  answered hash (turn -> response entry id)
-- KEYS[4]  the agent's response stream
-- ARGV[1]  turn (sequence number)
-- ARGV[2]  entry id of the request being answered
-- ARGV[..] field/value pairs of the response entry
-- Output:  {"recorded", id} | {"duplicate", id recorded earlier}
--          | {"not_routed", ""} (the request is not the one routed for the turn)
--          | {"not_running", status}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then return {'not_running', status or ''} end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return {'not_routed', ''} end
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then return {'duplicate', existing} end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[4], '*', unpack(fields))
redis.call('HSET', KEYS[3], ARGV[1], id)
return {'recorded', id}
