// Who signs what the CLI sends: an Arweave wallet (--wallet, RSA) or the user's development
// ed25519 key, created on first use in the config folder (the same PEM form as a node's key).
import { join } from 'node:path';
import { ed25519Signer } from '../engine/protocol/ans104/data-item.ts';
import { configDir, readWallet } from '../arweave/wallet.ts';
import { loadOrCreateNodeKey } from '../attest/node-key.ts';
import type { Signer } from '../client/node-client.ts';

export function cliSigner(wallet: string | undefined): Signer {
  if (wallet) return { rsa: readWallet(wallet) };
  return { ed25519: ed25519Signer(loadOrCreateNodeKey(join(configDir(), 'dev-key.pem')).privateKey) };
}
