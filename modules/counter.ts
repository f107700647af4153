// counter: the simplest process module. Its whole state is one global; the engine keeps
// the instance alive between messages, so the count survives from slot to slot.
import { readEnvelope, respond } from "./lib/process";
import { jsonArray, jsonObject } from "./lib/json";

export { hw_alloc, hw_free } from "./lib/abi";

let count: i64 = 0;

/**
 * Every message after the spawn message (slot > 0) adds one, except `Action: Get`, which
 * only reads. Output: {"count": N}; so at slot N (without Gets) the count is N.
 */
export function handle(ptr: i32, len: i32): u64 {
  const env = readEnvelope(ptr, len);
  if (env.slot > 0 && env.tag("Action") != "Get") count++;
  return respond(jsonObject().setNumber("count", <f64>count), jsonArray());
}
