// token: a process module with real state, a fungible-token ledger kept in module memory
// (the pattern of AO's token blueprint). The engine replays messages in slot order into one
// live instance, so the ledger below is the process state; handle() must therefore be a
// pure function of (state, message), which is why iteration order is never taken from the
// hash map and every failure is checked before any balance changes.
import { Envelope, outbound, readEnvelope, respond, respondError, tags } from "./lib/process";
import { JSONValue, jsonArray, jsonObject } from "./lib/json";

export { hw_alloc, hw_free } from "./lib/abi";

const DEFAULT_SUPPLY: u64 = 1000000;

const balances = new Map<string, u64>();

/**
 * Slot 0 (spawn) mints the supply (process tag `Supply`, default 1000000) to the process
 * owner. Later messages are dispatched on their `Action` tag: Transfer, Balance, Balances.
 * Quantities are u64, written as decimal strings.
 */
export function handle(ptr: i32, len: i32): u64 {
  const env = readEnvelope(ptr, len);
  if (env.slot == 0) return spawn(env);
  const action = env.tag("Action");
  if (action == null) return respondError("missing Action tag");
  if (action == "Transfer") return transfer(env);
  if (action == "Balance") return balance(env);
  if (action == "Balances") return allBalances();
  return respondError("unknown action " + action);
}

function spawn(env: Envelope): u64 {
  const owner = env.process.getString("owner");
  if (owner == null || owner.length == 0) return respondError("process.owner is missing");
  let supply = DEFAULT_SUPPLY;
  const supplyTag = env.processTag("Supply");
  if (supplyTag != null) {
    if (!isDecimal(supplyTag)) return respondError("Supply must be a decimal integer below 2^64, got " + supplyTag);
    supply = parseDecimal(supplyTag);
  }
  balances.set(owner, supply);
  return respond(jsonObject().setString("owner", owner).setString("supply", supply.toString()), jsonArray());
}

function transfer(env: Envelope): u64 {
  const from = env.from;
  const to = env.tag("Recipient");
  if (to == null || to.length == 0) return respondError("Transfer needs a Recipient tag");
  const quantityTag = env.tag("Quantity");
  if (quantityTag == null) return respondError("Transfer needs a Quantity tag");
  if (!isDecimal(quantityTag)) return respondError("Quantity must be a decimal integer below 2^64, got " + quantityTag);
  const quantity = parseDecimal(quantityTag);
  if (quantity == 0) return respondError("Quantity must be greater than zero");
  const fromBalance = balanceOf(from);
  if (fromBalance < quantity) {
    return respondError("insufficient balance: " + from + " has " + fromBalance.toString() + ", needs " + quantity.toString());
  }
  // Read the recipient after debiting so a transfer to oneself nets to zero. No overflow:
  // the total of all balances is the minted supply, itself a u64.
  balances.set(from, fromBalance - quantity);
  balances.set(to, balanceOf(to) + quantity);

  const q = quantity.toString();
  const messages = jsonArray()
    .push(outbound(from, tags(["Action", "Debit-Notice", "Recipient", to, "Quantity", q]), ""))
    .push(outbound(to, tags(["Action", "Credit-Notice", "Sender", from, "Quantity", q]), ""));
  const output = jsonObject().setBool("ok", true).setString("from", from).setString("to", to).setString("quantity", q);
  return respond(output, messages);
}

function balance(env: Envelope): u64 {
  const target = env.tag("Target");
  const account = target != null ? target : env.from;
  const output = jsonObject().setString("account", account).setString("balance", balanceOf(account).toString());
  return respond(output, jsonArray());
}

function allBalances(): u64 {
  // Map iteration follows insertion order, which is deterministic too, but sorted keys
  // make the output independent of the history that produced the same balances.
  const accounts = balances.keys();
  accounts.sort(compareStrings);
  const output: JSONValue = jsonObject();
  for (let i = 0, n = accounts.length; i < n; i++) {
    const account = unchecked(accounts[i]);
    output.setString(account, balances.get(account).toString());
  }
  return respond(output, jsonArray());
}

function balanceOf(account: string): u64 {
  return balances.has(account) ? balances.get(account) : 0;
}

// Code-unit order, the same as JavaScript's default sort and Object.keys(...).sort().
function compareStrings(a: string, b: string): i32 {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Digits only (no sign, no spaces, no exponent) and at most u64.MAX_VALUE.
function isDecimal(s: string): bool {
  const n = s.length;
  if (n == 0 || n > 20) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return n < 20 || s <= "18446744073709551615";
}

function parseDecimal(s: string): u64 {
  let v: u64 = 0;
  for (let i = 0, n = s.length; i < n; i++) v = v * 10 + <u64>(s.charCodeAt(i) - 0x30);
  return v;
}
