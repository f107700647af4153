// An ed25519 identity kept as a PKCS#8 PEM file, created on first use: the node's key in its data
// folder, and the CLI's development key in the config folder (cli/signer.ts).
// Its address is b64url(sha256(public key)), as ANS-104 derives addresses from owners.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { b64url } from '../engine/protocol/encoding.ts';
import { sha256b64 } from '../engine/protocol/hash.ts';

export interface NodeKey {
  privateKey: KeyObject;
  publicKey: Uint8Array; // raw 32 bytes
  address: string;
}

export function loadOrCreateNodeKey(path: string): NodeKey {
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const privateKey = createPrivateKey(readFileSync(path));
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  return { privateKey, publicKey, address: sha256b64(publicKey) };
}

export const publicKeyB64 = (key: NodeKey) => b64url(key.publicKey);
