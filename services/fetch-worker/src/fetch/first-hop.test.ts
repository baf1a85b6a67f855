import { describe, expect, it } from 'vitest';
import { FirstHopCache } from './first-hop';
import { EgressPolicy } from './url-policy';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** What the executor would take from a full parse, or null when the URL is refused or invalid. */
function parsed(raw: string, egress: EgressPolicy): { origin: string; host: string; path: string } | null {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    egress.checkUrl(url);
    return { origin: url.origin, host: url.host, path: url.pathname + url.search };
  } catch {
    return null;
  }
}

describe('FirstHopCache', () => {
  const egress = new EgressPolicy({ allowLoopback: true, allowPrivate: false });

  it('splits plain URLs as new URL does, parsing each origin once', () => {
    const cache = new FirstHopCache(egress);
    expect(cache.lookup('http://127.0.0.1:18080/data/w3/t0001.bin')).toEqual({
      origin: 'http://127.0.0.1:18080',
      host: '127.0.0.1:18080',
      path: '/data/w3/t0001.bin',
    });
    expect(cache.lookup('https://Example.COM:443/a/b?x=1&y=%2F')).toEqual({
      origin: 'https://example.com',
      host: 'example.com',
      path: '/a/b?x=1&y=%2F',
    });
    expect(cache.lookup('http://[::1]:8080//double//slash')).toEqual({
      origin: 'http://[::1]:8080',
      host: '[::1]:8080',
      path: '//double//slash',
    });
  });

  it.each([
    'http://169.254.169.254/latest/meta-data', // refused: the full parse reports it
    'http://metadata.google.internal/x',
    'http://10.0.0.1/x', // private, not allowed here
    'http://user:pw@example.com/x', // credentials
    'ftp://example.com/x',
    'HTTP://example.com/x',
    ' http://example.com/x',
    'http://example.com',
    'http:///x',
    'http://example.com/a/../b',
    'http://example.com/a/./b',
    'http://example.com/a/%2e%2E/b',
    'http://example.com/.well-known/x',
    'http://example.com/a?',
    'http://example.com/a b',
    'http://example.com/a\tb',
    'http://example.com/a\\b',
    'http://example.com/a#frag',
    'http://example.com/caf\u00e9',
    'http://example.com/a"b',
    "http://example.com/a?b='c'",
    'http://example.com/{a}`|^',
    'http://exa mple.com/x',
    'http://example.com:99999/x',
  ])('leaves %j to the full parse', (raw) => {
    expect(new FirstHopCache(egress).lookup(raw)).toBeNull();
  });

  it('never disagrees with new URL and the egress policy on random URLs', () => {
    const next = random(11);
    const prefixes = [
      'http://127.0.0.1:18080',
      'https://example.com',
      'http://EXAMPLE.com:80',
      'https://example.com:8443',
      'http://[::1]',
      'http://[::ffff:169.254.169.254]',
      'http://0x7f.1',
      'http://127.1',
      'http://169.254.169.254',
      'http://metadata.google.internal',
      'http://10.1.2.3',
      'http://u@example.com',
      'http://ex%41mple.com',
      'http://xn--caf-dma.com',
      'http://a..b',
      'https://',
      'http:/',
      'http:\\\\example.com',
    ];
    // Mostly characters the fast path accepts, with the tricky ones now and then.
    const plain = ['/', '/', 'a', 'Z', '0', '.', '%', '2e', '2E', '%2f', '?', '&', '=', '@', ':', ';', '~', '-', '_', '!', '$', '(', '*', '+', ','];
    const tricky = ['..', '#', "'", ' ', '\t', '\n', '\\', '"', '<', '`', '{', '|', '^', '[', 'é', '\u0000'];
    const pick = (list: string[]): string => list[Math.floor(next() * list.length)] ?? '';
    const cache = new FirstHopCache(egress);
    let fast = 0;
    for (let i = 0; i < 50_000; i++) {
      let raw = pick(prefixes) + (next() < 0.9 ? '/' : '');
      const length = Math.floor(next() * 10);
      for (let j = 0; j < length; j++) raw += next() < 0.97 ? pick(plain) : pick(tricky);
      const hop = cache.lookup(raw);
      if (hop === null) continue;
      fast++;
      expect(hop, JSON.stringify(raw)).toEqual(parsed(raw, egress));
    }
    expect(fast).toBeGreaterThan(5_000); // the fast path was exercised
  });
});
