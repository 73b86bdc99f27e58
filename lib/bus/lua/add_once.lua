-- Appends an entry to a stream at most once per field of a marker hash, so a
-- request routed twice (after a crash) is written once.
--
-- KEYS[1]  marker hash (e.g. `…:routed`)
-- KEYS[2]  stream to append to
-- ARGV[1]  marker field (the sequence number)
-- ARGV[..] field/value pairs of the entry
-- Output:  {entry id, 1} when appended; {id recorded earlier, 0} otherwise.
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {existing, 0} end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('HSET', KEYS[1], ARGV[1], id)
return {id, 1}
