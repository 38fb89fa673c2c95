/**
 * The native-crypto DAS message decryptor against the AWS Encryption SDK: over generated messages (framed with
 * random frame sizes, and single-block) and mutations of them (a flipped bit anywhere, truncation, appended
 * bytes, a signature from another message, another data key), both must return the same plaintext or both
 * must refuse. `DAS_DIFFERENTIAL_RUNS` raises the number of generated messages (default 1,000, each checked
 * clean and mutated).
 */
import { randomBytes } from 'node:crypto';
import { buildClient, CommitmentPolicy } from '@aws-crypto/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DasKeyMaterial, decryptMessage, keyringFor } from '../../src/collectors/das/decrypt.js';
import { decryptDasMessage, isDasFastPathMessage } from '../../src/collectors/das/esdk-message.js';
import { encryptPayload } from '../support/das-encoder.js';
import { encryptSingleBlock } from '../support/esdk-single-block.js';

const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);
const NAME = { namespace: 'BC', name: 'DataKey' };
const RUNS = Number(process.env.DAS_DIFFERENTIAL_RUNS ?? 1000);

const dataKey = randomBytes(32);
const otherKey = randomBytes(32);
const keyring = await keyringFor(dataKey);

type Outcome = { ok: true; plaintext: string } | { ok: false };

async function viaSdk(message: Buffer): Promise<Outcome> {
  try {
    const { plaintext } = await decrypt(keyring, message);
    return { ok: true, plaintext: plaintext.toString('hex') };
  } catch {
    return { ok: false };
  }
}

function viaNative(message: Buffer): Outcome {
  const r = decryptDasMessage(message, dataKey, NAME);
  return r.ok ? { ok: true, plaintext: r.plaintext.toString('hex') } : { ok: false };
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: number[] }
  | { kind: 'swap-signature' };

function mutate(message: Buffer, m: Mutation, donor: Buffer): Buffer {
  const copy = Buffer.from(message);
  switch (m.kind) {
    case 'none':
      return copy;
    case 'flip':
      copy[Math.floor(m.at * copy.length)] ^= 1 << m.bit;
      return copy;
    case 'truncate':
      return copy.subarray(0, Math.floor(m.at * copy.length));
    case 'append':
      return Buffer.concat([copy, Buffer.from(m.bytes)]);
    case 'swap-signature':
      // This message's signed bytes with the donor's footer (its signature).
      return Buffer.concat([copy.subarray(0, findFooter(copy)), donor.subarray(findFooter(donor))]);
  }
}

/** Offset of the footer: a uint16 length, then a DER ECDSA signature (a SEQUENCE, 0x30) of that length. */
function findFooter(b: Buffer): number {
  for (let len = 110; len >= 8; len--) {
    const at = b.length - 2 - len;
    if (at > 0 && b.readUInt16BE(at) === len && b[at + 2] === 0x30) return at;
  }
  throw new Error('no footer');
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: 'none' }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.noBias(fc.double({ min: 0, max: 0.999999, noNaN: true })),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.noBias(fc.double({ min: 0, max: 0.999999, noNaN: true })) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
  fc.constant<Mutation>({ kind: 'swap-signature' }),
);

describe('native DAS decryptor against the AWS Encryption SDK', () => {
  it(`agrees on every plaintext and every refusal (${RUNS} generated messages, clean and mutated)`, async () => {
    let accepted = 0;
    let refused = 0;
    const donor = await encryptPayload(dataKey, randomBytes(64));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 12_000 })),
          frame: fc.option(fc.constantFrom(1, 17, 512, 4096, 65_536), { nil: undefined }),
          singleBlock: fc.boolean(),
          // Unbiased: fast-check leans toward edge values, which would make most messages use the wrong key.
          wrongKey: fc.noBias(fc.integer({ min: 0, max: 19 })),
          mutation,
        }),
        async ({ size, frame, singleBlock, wrongKey, mutation: m }) => {
          // Tiny frames only for tiny payloads: the SDK pushes every frame through its streams one by one.
          const payload = randomBytes(frame !== undefined && frame < 512 ? size % 65 : size);
          const key = wrongKey === 0 ? otherKey : dataKey;
          const message = singleBlock ? encryptSingleBlock(key, payload) : await encryptPayload(key, payload, frame);
          for (const candidate of [message, mutate(message, m, donor)]) {
            const sdk = await viaSdk(candidate);
            const native = viaNative(candidate);
            expect(native).toEqual(sdk);
            if (native.ok) accepted++;
            else refused++;
            if (candidate === message && key === dataKey) expect(native).toEqual({ ok: true, plaintext: payload.toString('hex') });
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Both sides of the comparison were exercised.
    expect(accepted).toBeGreaterThan(RUNS / 2);
    expect(refused).toBeGreaterThan(RUNS / 3);
  }, 600_000);

  it('refuses a message whose signature was altered, naming the signature', async () => {
    const message = await encryptPayload(dataKey, Buffer.from('payload'));
    const bad = Buffer.from(message);
    bad[bad.length - 5] ^= 0x10;
    expect(decryptDasMessage(bad, dataKey, NAME)).toEqual({ ok: false, reason: 'invalid signature' });
    expect((await viaSdk(bad)).ok).toBe(false);
  });

  it('hands messages of other suites to the SDK', async () => {
    const message = await encryptPayload(dataKey, Buffer.from('payload'));
    expect(isDasFastPathMessage(message)).toBe(true);
    const otherSuite = Buffer.from(message);
    otherSuite.writeUInt16BE(0x0178, 2);
    expect(isDasFastPathMessage(otherSuite)).toBe(false);
    const r = await decryptMessage(new DasKeyMaterial(dataKey), otherSuite);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^ESDK decrypt failed: /);
  });
});
