-- Raises hash field ARGV[1] of KEYS[1] to the integer ARGV[2] unless the field already
-- holds a larger one, and returns the field's value afterwards. Integers are compared
-- as decimal strings: Lua numbers are doubles and would round large i64 values.

local function is_i64(text)
  local negative = string.sub(text, 1, 1) == '-'
  local digits = negative and string.sub(text, 2) or text
  if digits == '0' then
    return not negative
  end
  if not string.match(digits, '^[1-9]%d*$') or #digits > 19 then
    return false
  end
  if #digits < 19 then
    return true
  end
  if negative then
    return digits <= '9223372036854775808'
  end
  return digits <= '9223372036854775807'
end

local function less(a, b)
  local a_negative = string.sub(a, 1, 1) == '-'
  local b_negative = string.sub(b, 1, 1) == '-'
  if a_negative ~= b_negative then
    return a_negative
  end
  if #a ~= #b then
    if a_negative then
      return #a > #b
    end
    return #a < #b
  end
  if a_negative then
    return a > b
  end
  return a < b
end

local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and not is_i64(current) then
  return redis.error_reply('NOTINTEGER hash field is not an integer')
end
if current and not less(current, ARGV[2]) then
  return current
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]
