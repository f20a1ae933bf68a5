// TCPLOCALHOST and TCPREMOTEHOST as s6-tcpclient finds them: by DNS alone,
// unless -h lets the hosts database answer first. Node's reverse() reads
// /etc/hosts before DNS, so the default lookup is a PTR query of its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'dgram';
import { readFileSync } from 'fs';
import { Resolver } from 'dns/promises';
import { nameOf, reverseName } from '../src/wiring/tcp-environment';

test('the PTR names of IPv4, IPv6 and IPv4-mapped addresses', () => {
  assert.equal(reverseName('127.0.0.1'), '1.0.0.127.in-addr.arpa');
  assert.equal(reverseName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
  assert.equal(reverseName('::1'), `1.${'0.'.repeat(31)}ip6.arpa`);
  assert.equal(reverseName('2001:db8::567:89ab'), 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('2001:db8:1:2:3:4:5:6'), '6.0.0.0.5.0.0.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('::ffff:10.1.2.3'), '3.2.1.10.in-addr.arpa');
});

/** A resolver whose only name server is a loopback UDP port nobody listens on: DNS has no answer. */
async function resolverWithoutDns(): Promise<Resolver> {
  const probe = createSocket('udp4');
  await new Promise<void>((done) => probe.bind(0, '127.0.0.1', done));
  const { port } = probe.address();
  await new Promise<void>((done) => probe.close(() => done()));
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return resolver;
}

test('without -h the name comes from DNS only: /etc/hosts does not answer; with -h it does', async () => {
  assert.match(readFileSync('/etc/hosts', 'utf8'), /^127\.0\.0\.1\s+\S/m, 'the machine names 127.0.0.1 in /etc/hosts');
  const noDns = await resolverWithoutDns();
  assert.equal(await nameOf('127.0.0.1', false, noDns), undefined);
  // What the default lookup must not be: Node's reverse() finds a name where DNS has none.
  const fromHosts = await noDns.reverse('127.0.0.1').catch(() => []);
  assert.ok(fromHosts.length > 0, 'reverse() reads /etc/hosts (if this fails, Node changed and reverse() may serve again)');
  assert.ok(await nameOf('127.0.0.1', true, noDns), '-h: the hosts database names 127.0.0.1');
});
