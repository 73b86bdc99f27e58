/**
 * Moves a conversation to a final status unless it already has one, so the
 * first reason a run stopped is the one recorded.
 *
 * KEYS[1] the conversation's meta hash
 * ARGV[1] status (completed | failed | interrupted)
 * ARGV[2] stop reason
 * ARGV[3] ended_at (epoch ms)
 * ARGV[4] error detail ("" for none)
 * Output: 1 when the status changed, 0 when it was final already.
 *
 * @module
 */
export const FINISH_CONVERSATION_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status ~= 'pending' and status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'stop_reason', ARGV[2], 'ended_at', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
return 1
`;
