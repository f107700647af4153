// Shared plumbing for process modules (counter, token): reading the engine's
// {"message", "process"} envelope and writing the {"output", "messages", "error"} result.
//
// A process module is instantiated once and handed its messages in slot order, so its
// state is simply module memory; everything here is per call and keeps no state itself.
import { readJSON, writeJSON } from "./abi";
import { JSONValue, jsonArray, jsonObject, jsonString } from "./json";

/** One scheduled message and the process it is addressed to. */
export class Envelope {
  constructor(public message: JSONValue, public process: JSONValue) {}

  /** The message's slot: 0 is the spawn message, then 1, 2, 3... */
  get slot(): i64 {
    const slot = this.message.get("slot");
    if (!slot || !slot.isNumber()) throw new Error("message.slot must be a number");
    return <i64>slot.asNumber();
  }

  /** The signer of the message. */
  get from(): string {
    const from = this.message.getString("from");
    return from != null ? from : "";
  }

  /** The value of the message's first tag called `name`, or null. */
  tag(name: string): string | null {
    return tagValue(this.message.getArray("tags"), name);
  }

  /** The value of the process's (spawn) tag called `name`, or null. */
  processTag(name: string): string | null {
    return tagValue(this.process.getArray("tags"), name);
  }
}

/** Parses the bytes-ABI input of a process handler. */
export function readEnvelope(ptr: i32, len: i32): Envelope {
  const input = readJSON(ptr, len);
  const message = input.getObject("message");
  if (!message) throw new Error("input must be an object with a \"message\" object");
  const process = input.getObject("process");
  return new Envelope(message, process ? process : jsonObject());
}

/** Tags are an array of {"name", "value"}; names are matched exactly. */
export function tagValue(tags: JSONValue | null, name: string): string | null {
  if (!tags) return null;
  for (let i = 0, n = tags.length; i < n; i++) {
    const t = tags.at(i)!;
    if (t.getString("name") == name) return t.getString("value");
  }
  return null;
}

/** Builds a {"name", "value"} tag list from alternating names and values. */
export function tags(pairs: Array<string>): JSONValue {
  const list = jsonArray();
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    list.push(jsonObject().setString("name", unchecked(pairs[i])).setString("value", unchecked(pairs[i + 1])));
  }
  return list;
}

/** An outgoing message for the engine to schedule. */
export function outbound(target: string, tagList: JSONValue, data: string): JSONValue {
  return jsonObject().setString("target", target).set("tags", tagList).setString("data", data);
}

/** The handler's result: {"output": ..., "messages": [...]}. */
export function respond(output: JSONValue, messages: JSONValue): u64 {
  return writeJSON(jsonObject().set("output", output).set("messages", messages));
}

// A handled error is reported twice on purpose: "output" is what a reader of the result sees,
// and the top-level "error" lets the engine flag the message as failed without knowing the
// module's output shape. Neither changes state: the caller returns before touching it.
export function respondError(message: string): u64 {
  return writeJSON(
    jsonObject()
      .set("output", jsonObject().setString("error", message))
      .set("messages", jsonArray())
      .set("error", jsonString(message)),
  );
}
