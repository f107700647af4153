// The worker side of engine/signatures.ts: checks a batch of client items' signatures and signs
// a batch of assignment messages with the node's key (handed over once, in workerData).
// Loaded through tsx by engine/worker-entry.mjs.
import { workerData } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { answer, type SignatureAnswers, type SignatureBatch } from './signatures.ts';

const { privateKey } = workerData as { privateKey: KeyObject };

export const handle = (batch: SignatureBatch): SignatureAnswers => answer(privateKey, batch);
