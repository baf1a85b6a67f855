import { describe, expect, it } from 'vitest';
import { allowsClass, classifyAddress, isMetadataHostName, type AddressClass } from './egress';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['2606:4700::1111', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'forbidden'],
    ['169.254.0.1', 'forbidden'],
    ['::ffff:169.254.169.254', 'forbidden'],
    ['::ffff:a9fe:a9fe', 'forbidden'],
    ['64:ff9b::169.254.169.254', 'forbidden'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['2002:a9fe:a9fe::1', 'forbidden'],
    ['2002:0a00:0001::1', 'private'],
    ['::169.254.169.254', 'forbidden'],
    ['fe80::1', 'forbidden'],
    ['fe80::1%eth0', 'forbidden'],
    ['fd00:ec2::254', 'forbidden'],
    ['100.100.100.200', 'forbidden'],
    ['0.0.0.0', 'forbidden'],
    ['::', 'forbidden'],
    ['224.0.0.1', 'forbidden'],
    ['ff02::1', 'forbidden'],
    ['255.255.255.255', 'forbidden'],
    ['not-an-ip', 'forbidden'],
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it.each([
    // GCE metadata over IPv6; its unique-local neighbours stay private.
    ['fd20:ce::254', 'forbidden'],
    ['FD20:00CE:0:0:0:0:0:0254', 'forbidden'],
    ['fd20:ce::253', 'private'],
    // Oracle Cloud Classic metadata, also wrapped; the rest of 192.0.0.0/24 stays private.
    ['192.0.0.192', 'forbidden'],
    ['::ffff:192.0.0.192', 'forbidden'],
    ['64:ff9b::c000:c0', 'forbidden'],
    ['2002:c000:c0::1', 'forbidden'],
    ['192.0.0.193', 'private'],
    ['192.0.0.8', 'private'],
  ])('metadata address %s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it.each([
    // A /96 prefix at the start of 64:ff9b:1::/48: the last 32 bits.
    ['64:ff9b:1::a9fe:a9fe', 'forbidden'],
    ['64:ff9b:1::169.254.169.254', 'forbidden'],
    ['64:ff9b:1:0:0:0:a9fe:1', 'forbidden'],
    ['64:ff9b:1::6464:64c8', 'forbidden'], // 100.100.100.200
    ['64:ff9b:1::c000:c0', 'forbidden'], // 192.0.0.192
    ['64:ff9b:1::7f00:1', 'loopback'],
    ['64:ff9b:1::a00:1', 'private'],
    ['64:ff9b:1::808:808', 'public'],
    // A /96 prefix further into the /48 (64:ff9b:1:1::/96): its /48 reading, 0.1.0.0, is dropped.
    ['64:ff9b:1:1::808:808', 'public'],
    ['64:ff9b:1:1::a9fe:a9fe', 'forbidden'],
    // The /48 format: IPv4 in bits 48-63 and 72-87, whatever the u-octet and the suffix hold.
    ['64:ff9b:1:a9fe:a9:fe00::', 'forbidden'],
    ['64:ff9b:1:a9fe:a9:fe00:0:1', 'forbidden'],
    ['64:ff9b:1:a9fe:ffa9:fe00::', 'forbidden'],
    ['64:ff9b:1:a9fe::', 'forbidden'],
    ['64:ff9b:1:7f00:0:100::', 'loopback'],
    ['64:ff9b:1:a00:0:100::', 'private'],
    ['64:ff9b:1:808:8:800::', 'public'],
    // Both layouts read something: the stricter class wins.
    ['64:ff9b:1:808:8:800:a9fe:a9fe', 'forbidden'],
    ['64:ff9b:1:a9fe:a9:fe00:808:808', 'forbidden'],
    ['64:ff9b:1:808:8:800:a00:1', 'private'],
    ['64:ff9b:1:a00:0:100:7f00:1', 'forbidden'],
    // Nothing but 0.0.0.0/8 in either layout.
    ['64:ff9b:1::', 'forbidden'],
    ['64:ff9b:1::1', 'forbidden'],
  ])('local-use NAT64 %s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('isMetadataHostName', () => {
  it.each([
    ['metadata.google.internal', true],
    ['METADATA.Google.Internal.', true],
    ['metadata.goog', true],
    ['metadata.azure.com', true],
    ['metadata.google.internal.example.com', false],
    ['example.com', false],
  ])('%s: %s', (name, expected) => {
    expect(isMetadataHostName(name)).toBe(expected);
  });
});

describe('allowsClass', () => {
  const classes: AddressClass[] = ['public', 'loopback', 'private', 'forbidden'];
  it.each([
    [{ allowLoopback: false, allowPrivate: false }, [true, false, false, false]],
    [{ allowLoopback: true, allowPrivate: false }, [true, true, false, false]],
    [{ allowLoopback: false, allowPrivate: true }, [true, false, true, false]],
    [{ allowLoopback: true, allowPrivate: true }, [true, true, true, false]],
  ])('%o allows %o', (rules, expected) => {
    expect(classes.map((c) => allowsClass(c, rules))).toEqual(expected);
  });
});
