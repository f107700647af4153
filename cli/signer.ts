// Who signs what the CLI sends: an Arweave wallet (--wallet, RSA) or the user's development
// ed25519 key, created on first use in the config folder.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { configDir, readWallet } from '../arweave/wallet.ts';
import type { Signer } from '../client/node-client.ts';

export function cliSigner(wallet: string | undefined): Signer {
  if (wallet) return { rsa: readWallet(wallet) };
  const path = join(configDir(), 'dev-key.pem');
  if (!existsSync(path)) {
    mkdirSync(configDir(), { recursive: true });
    writeFileSync(path, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  return { ed25519: ed25519Signer(createPrivateKey(readFileSync(path))) };
}
