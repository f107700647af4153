// Arweave wallets (RSA JWKs) for uploads: a given file, or a development wallet created on
// first use in the user's config folder. Dev wallets are funded only on local gateways.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import Arweave from 'arweave';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';

export type { JWKInterface };

const arweave = Arweave.init({});

/** $HYPERWASM_HOME, else $XDG_CONFIG_HOME/hyperwasm, else ~/.config/hyperwasm. */
export function configDir(): string {
  return process.env.HYPERWASM_HOME ?? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'hyperwasm');
}

export function readWallet(path: string): JWKInterface {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as JWKInterface;
  } catch (error) {
    throw new Error(`cannot read the wallet ${path}: ${(error as Error).message}`);
  }
}

/** Reads the JWK at path, creating an RSA-4096 wallet there first if there is none. */
export async function loadOrCreateWallet(path: string): Promise<JWKInterface> {
  if (existsSync(path)) return readWallet(path);
  const jwk = await arweave.wallets.generate();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

export const walletAddress = (jwk: JWKInterface): Promise<string> => arweave.wallets.jwkToAddress(jwk);
