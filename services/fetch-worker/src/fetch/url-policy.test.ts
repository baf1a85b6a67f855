import { describe, expect, it } from 'vitest';
import { classifyAddress } from '@spindle/runtime/egress';
import { EgressPolicy } from './url-policy';
import { FetchError } from './error-codes';

describe('EgressPolicy', () => {
  const strict = new EgressPolicy({ allowLoopback: false, allowPrivate: false });
  const lenient = new EgressPolicy({ allowLoopback: true, allowPrivate: true });

  const refusal = (policy: EgressPolicy, url: string): string | null => {
    try {
      policy.checkUrl(new URL(url));
      return null;
    } catch (err) {
      return err instanceof FetchError ? err.code : 'unexpected';
    }
  };

  it('allows public hosts and names (names are checked at DNS time)', () => {
    expect(refusal(strict, 'https://example.com/x')).toBeNull();
    expect(refusal(strict, 'http://93.184.215.14/')).toBeNull();
    expect(refusal(strict, 'http://localhost/')).toBeNull();
  });

  it('refuses loopback and private literals unless allowed', () => {
    expect(refusal(strict, 'http://127.0.0.1:8080/')).toBe('POLICY');
    expect(refusal(strict, 'http://[::1]/')).toBe('POLICY');
    expect(refusal(strict, 'http://10.0.0.1/')).toBe('POLICY');
    expect(refusal(lenient, 'http://127.0.0.1:8080/')).toBeNull();
    expect(refusal(lenient, 'http://10.0.0.1/')).toBeNull();
  });

  it('refuses URL spellings of forbidden addresses that WHATWG URL normalises', () => {
    expect(refusal(lenient, 'http://0xa9.0xfe.0xa9.0xfe/')).toBe('POLICY');
    expect(refusal(lenient, 'http://2852039166/')).toBe('POLICY');
    expect(refusal(strict, 'http://0x7f000001/')).toBe('POLICY');
  });

  it('always refuses metadata services, non-http schemes, and credentials', () => {
    expect(refusal(lenient, 'http://169.254.169.254/latest/meta-data/')).toBe('POLICY');
    expect(refusal(lenient, 'http://METADATA.google.internal./')).toBe('POLICY');
    expect(refusal(lenient, 'file:///etc/passwd')).toBe('POLICY');
    expect(refusal(lenient, 'gopher://example.com/')).toBe('POLICY');
    expect(refusal(lenient, 'http://user:pw@example.com/')).toBe('INVALID_SPEC');
  });

  it('filters DNS answers: localhost is refused by a strict policy and allowed by a lenient one', async () => {
    const lookup = (policy: EgressPolicy, all: boolean): Promise<unknown> =>
      new Promise((resolve, reject) =>
        policy.lookup('localhost', { all }, (err, address) => (err ? reject(err) : resolve(address))),
      );
    await expect(lookup(strict, true)).rejects.toMatchObject({ code: 'POLICY' });
    await expect(lookup(strict, false)).rejects.toMatchObject({ code: 'POLICY' });
    const addresses = (await lookup(lenient, true)) as Array<{ address: string }>;
    expect(addresses.length).toBeGreaterThan(0);
    for (const a of addresses) expect(classifyAddress(a.address)).toBe('loopback');
    expect(classifyAddress((await lookup(lenient, false)) as string)).toBe('loopback');
  });
});
