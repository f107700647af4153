// @ts-check
// arlocal in a process of its own, started by arweave/arlocal.ts: `node arweave/arlocal-child.mjs
// <dir> <port>`. Plain Node, never tsx: arlocal's dependencies take ~1 s to load, and every
// upload costs 170–400 µs of CPU (ed25519 verification of bundled items) that would otherwise
// be taken from the node's event loop. Here both run beside the node, on another core.
//
// Prints one JSON line, {"port"}, once it listens on 127.0.0.1; a failed start prints its message
// on stderr and exits 1. It lives exactly as long as its stdin: the node closes it to stop it,
// and a node that dies (even by SIGKILL) closes it too, so no arlocal outlives its node.
import http from 'node:http';
import ArLocalModule from 'arlocal';

const [dir, portArg] = process.argv.slice(2);
const wanted = Number(portArg);
if (!dir || !Number.isSafeInteger(wanted) || wanted < 0 || wanted > 65535) fail(`usage: node arweave/arlocal-child.mjs <dir> <port>, got ${JSON.stringify(process.argv.slice(2))}`);

// Ctrl-C in a terminal reaches the whole process group; the node decides when this one stops
// (it may still be publishing while it shuts down).
process.on('SIGINT', () => {});
process.on('SIGTERM', () => void stop());

/** @type {any} */
const ArLocal = /** @type {any} */ (ArLocalModule).default ?? ArLocalModule;
// persist=true keeps uploads across restarts; logs off (arlocal logs every request).
const arlocal = new ArLocal(wanted || 1984, false, dir, true);
// arlocal appends every request to ./logs synchronously; the node has its own logs.
arlocal.log.logInFile = () => {};
// arlocal listens on every interface and treats port 0 as 1984: bind loopback ourselves,
// once start() has added its routes (koa composes middleware when the server is made).
/** @type {http.Server | undefined} */
let server;
arlocal.app.listen = () => (server = http.createServer(arlocal.app.callback()));

let stopping = false;
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();

try {
  await arlocal.start();
  // arlocal indexes every bundled item with many small sqlite writes, each its own
  // transaction; with the default rollback journal that is ~70 items/s. WAL with NORMAL sync
  // keeps the database safe against a crashed process and indexes many times faster.
  await arlocal.connection.raw('PRAGMA journal_mode = WAL');
  await arlocal.connection.raw('PRAGMA synchronous = NORMAL');
  const listening = /** @type {http.Server} */ (server);
  await new Promise((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(wanted, '127.0.0.1', () => resolve(undefined));
  });
  const address = listening.address();
  if (!stopping) console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : wanted }));
} catch (error) {
  fail(`arlocal did not start on 127.0.0.1:${wanted} (data in ${dir}): ${error instanceof Error ? error.message : String(error)}`);
}

async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    if (server?.listening) {
      server.closeAllConnections();
      await new Promise((resolve) => server?.close(() => resolve(undefined)));
    }
    // (apollo is not stopped: it holds nothing that outlives this process, and draining it took seconds)
    await arlocal.connection?.destroy?.();
  } finally {
    process.exit(0);
  }
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(message);
  process.exit(1);
}
