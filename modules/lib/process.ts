// Shared plumbing for process modules (counter, token): reading the engine's
// {"message", "process"} envelope and writing the {"output", "messages", "error"} result.
//
// A process module is instantiated once and handed its messages in slot order, so its
// state is simply module memory; everything here is per call and keeps no state itself.
import { checkUTF8, writeJSON } from "./abi";
import { InPlace, JSONValue, jsonArray, jsonObject, jsonString, validateFinding } from "./json";

// The members a handler may ask for, located while the input is validated (one pass).
const INPUT_KEYS: StaticArray<string> = ["message", "process"];
const MESSAGE_KEYS: StaticArray<string> = ["slot", "from", "tags"];
const SLOT = 0;
const FROM = 1;
const TAGS = 2;

/**
 * One scheduled message and the process it is addressed to. The input is checked whole (UTF-8
 * and JSON) up front, but only the members a handler asks for are read, in place; `message`
 * and `process` build their trees on first use.
 */
export class Envelope {
  private messageTree: JSONValue | null = null;
  private processTree: JSONValue | null = null;

  // `at`: where the message's MESSAGE_KEYS are (0: missing).
  constructor(private text: InPlace, private messageAt: usize, private processAt: usize, private at: StaticArray<usize>) {}

  /** The message object. */
  get message(): JSONValue {
    if (!this.messageTree) this.messageTree = this.text.tree(this.messageAt);
    return this.messageTree!;
  }

  /** The process object (empty when the input has none). */
  get process(): JSONValue {
    if (!this.processTree) this.processTree = this.processAt != 0 ? this.text.tree(this.processAt) : jsonObject();
    return this.processTree!;
  }

  /** The message's slot: 0 is the spawn message, then 1, 2, 3... */
  get slot(): i64 {
    const slot = unchecked(this.at[SLOT]);
    if (!this.text.isNumber(slot)) throw new Error("message.slot must be a number");
    return <i64>this.text.number(slot);
  }

  /** The signer of the message. */
  get from(): string {
    const from = this.text.string(unchecked(this.at[FROM]));
    return from != null ? from : "";
  }

  /** The value of the message's first tag called `name`, or null. */
  tag(name: string): string | null {
    return this.tagsIn(unchecked(this.at[TAGS]), name);
  }

  /** The value of the process's (spawn) tag called `name`, or null. */
  processTag(name: string): string | null {
    return this.tagsIn(this.text.member(this.processAt, "tags"), name);
  }

  // As tagValue, on the text in place: only the matching tag's value is decoded.
  private tagsIn(tags: usize, name: string): string | null {
    const text = this.text;
    if (!text.isArray(tags)) return null;
    for (let t = text.element(tags, 0); t != 0; t = text.next(t)) {
      if (text.stringIs(text.member(t, "name"), name)) return text.string(text.member(t, "value"));
    }
    return null;
  }
}

/** Reads the bytes-ABI input of a process handler (the input must stay put while it is used). */
export function readEnvelope(ptr: i32, len: i32): Envelope {
  checkUTF8(ptr, len);
  const found = new StaticArray<usize>(INPUT_KEYS.length);
  const at = new StaticArray<usize>(MESSAGE_KEYS.length);
  validateFinding(<usize>ptr, <usize>len, INPUT_KEYS, found, 0, MESSAGE_KEYS, at);
  const text = new InPlace(<usize>ptr, <usize>ptr + <usize>len);
  const message = unchecked(found[0]);
  if (!text.isObject(message)) throw new Error("input must be an object with a \"message\" object");
  const process = unchecked(found[1]);
  return new Envelope(text, message, text.isObject(process) ? process : 0, at);
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

/** The handler's result with processes to start: {"output", "messages", "spawns": [{"module", "tags", "data"}]}. */
export function respondSpawning(output: JSONValue, messages: JSONValue, spawns: JSONValue): u64 {
  return writeJSON(jsonObject().set("output", output).set("messages", messages).set("spawns", spawns));
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
