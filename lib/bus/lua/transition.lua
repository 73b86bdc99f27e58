-- Moves a conversation to a new status when its current status is one of
-- the allowed ones (the state machine of lib/model/conversation_status.ts).
--
-- KEYS[1]  the conversation's meta hash
-- ARGV[1]  target status
-- ARGV[2]  allowed current statuses, comma-separated (",pending,running,")
-- ARGV[3]  number of fields to delete on success, then those field names
-- ARGV[..] field/value pairs to set on success (after the deletions)
-- Output:  {1, previous status} when changed; {0, current status or ""} when refused.
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
if not string.find(ARGV[2], ',' .. current .. ',', 1, true) then return {0, current} end
local ndel = tonumber(ARGV[3])
for i = 4, 3 + ndel do redis.call('HDEL', KEYS[1], ARGV[i]) end
local sets = {'status', ARGV[1]}
for i = 4 + ndel, #ARGV do sets[#sets + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(sets))
return {1, current}
