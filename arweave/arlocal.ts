// The embedded Arweave gateway: arlocal, started by the node on loopback with its
// database in the node's data folder, so a node works offline out of the box.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import ArLocalModule from 'arlocal';

export interface EmbeddedGateway {
  url: string;
  stop(): Promise<void>;
}

export async function startArlocal(options: { dir: string; port?: number }): Promise<EmbeddedGateway> {
  mkdirSync(options.dir, { recursive: true });
  const ArLocal = ((ArLocalModule as any).default ?? ArLocalModule) as new (...args: unknown[]) => any;
  // persist=true keeps uploads across restarts; logs off (arlocal logs every request).
  const arlocal = new ArLocal(options.port || 1984, false, options.dir, true);
  // arlocal appends every request to ./logs synchronously; the node has its own logs.
  arlocal.log.logInFile = () => {};
  // arlocal listens on every interface and treats port 0 as 1984: bind loopback ourselves,
  // once start() has added its routes (koa composes middleware when the server is made).
  let server!: http.Server;
  arlocal.app.listen = () => (server = http.createServer(arlocal.app.callback()));
  await arlocal.start();
  // arlocal indexes every bundled item with many small sqlite writes, each its own
  // transaction; with the default rollback journal that is ~70 items/s. WAL with NORMAL sync
  // keeps the database safe against a crashed process and indexes many times faster.
  await arlocal.connection.raw('PRAGMA journal_mode = WAL');
  await arlocal.connection.raw('PRAGMA synchronous = NORMAL');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 1984, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await arlocal.apollo?.stop?.();
      await arlocal.connection?.destroy?.();
    },
  };
}
