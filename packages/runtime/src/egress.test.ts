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
