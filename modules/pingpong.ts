// pingpong: two processes that answer each other, for message passing (docs/PROTOCOL.md §21).
// `Action: Serve` with `Peer: <process>` and `Rounds: N` starts a rally: this process sends
// `Action: Ping, Round: 1` to the peer; a process that gets `Ping` with Round r < N answers
// its sender (`from`: the process that pushed it) with Round r + 1. Both count what they got.
// `Action: Fanout` with `Peers: <pid>,<pid>,…` sends one `Action: Note` to each; `Action: Spawn`
// with `Module: <id>` starts a process of that module (a `spawns` entry).
import { readEnvelope, respond, respondError, respondSpawning, outbound, tags } from "./lib/process";
import { JSONValue, jsonArray, jsonObject } from "./lib/json";

export { hw_alloc, hw_free } from "./lib/abi";

let pings: i64 = 0;
let last: i64 = 0;
let lastFrom: string = "";

export function handle(ptr: i32, len: i32): u64 {
  const env = readEnvelope(ptr, len);
  if (env.slot == 0) return state(jsonArray());
  const action = env.tag("Action");
  if (action == "Serve") {
    const peer = env.tag("Peer");
    const rounds = env.tag("Rounds");
    if (peer == null || rounds == null) return respondError("Serve needs Peer and Rounds tags");
    return state(jsonArray().push(outbound(peer, tags(["Action", "Ping", "Round", "1", "Rounds", rounds]), "ping 1")));
  }
  if (action == "Spawn") {
    // Starts a process of `Module` (named by `Name`), scheduled by this process's scheduler.
    const module = env.tag("Module");
    if (module == null) return respondError("Spawn needs a Module tag");
    const name = env.tag("Name");
    const spawn = jsonObject().setString("module", module).set("tags", tags(["Name", name != null ? name : "child"])).setString("data", "");
    return respondSpawning(stateOutput(), jsonArray(), jsonArray().push(spawn));
  }
  if (action == "Fanout") {
    // One `Action: Note` to each of the comma-separated `Peers`, in order: a fan-out.
    const peers = env.tag("Peers");
    if (peers == null) return respondError("Fanout needs a Peers tag");
    const messages = jsonArray();
    const list = peers.split(",");
    for (let i = 0; i < list.length; i++) messages.push(outbound(unchecked(list[i]), tags(["Action", "Note"]), ""));
    return state(messages);
  }
  if (action == "Ping") {
    const round = env.tag("Round");
    const rounds = env.tag("Rounds");
    if (round == null || rounds == null) return respondError("Ping needs Round and Rounds tags");
    pings++;
    last = I64.parseInt(round);
    lastFrom = env.from;
    const messages = jsonArray();
    if (last < I64.parseInt(rounds)) {
      const next = (last + 1).toString();
      messages.push(outbound(env.from, tags(["Action", "Ping", "Round", next, "Rounds", rounds]), "ping " + next));
    }
    return state(messages);
  }
  return state(jsonArray());
}

function stateOutput(): JSONValue {
  return jsonObject().setNumber("pings", <f64>pings).setNumber("last", <f64>last).setString("from", lastFrom);
}

function state(messages: JSONValue): u64 {
  return respond(stateOutput(), messages);
}
