/**
 * Appends an entry to a stream at most once per key of a marker hash, so a
 * turn answered (or routed) twice after a crash is recorded once.
 *
 * KEYS[1] marker hash (e.g. `…:answered`)
 * KEYS[2] stream to append to
 * ARGV[1] marker field (the sequence number)
 * ARGV[2..] field/value pairs of the entry
 * Output: the new entry id, or the id recorded earlier for that field.
 *
 * @module
 */
export const ADD_ONCE_SCRIPT = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return existing end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('HSET', KEYS[1], ARGV[1], id)
return id
`;
