// Words for the errors a user can cause: system errors in the C library's
// words, resolver failures saying what happened to which name, never a Node
// code (ENOTFOUND, EAI_AGAIN) in a message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'path';
import { describeConnectError, describeResolverError, describeSystemError } from '../src/base/errors';
import { REPO, runCommand } from './helpers/harness';
import { Pki } from './helpers/pki';

const sysErr = (code: string, syscall = 'connect') => Object.assign(new Error(`${syscall} ${code} 127.0.0.1:1`), { code, syscall });
const dnsErr = (code: string) => Object.assign(new Error(`getaddrinfo ${code} nosuchhost`), { code, syscall: 'getaddrinfo', hostname: 'nosuchhost' });

test('system errors: strerror() words, and for any other errno libuv\'s, never the bare code', () => {
  assert.equal(describeSystemError(sysErr('ECONNREFUSED')), 'Connection refused');
  assert.equal(describeSystemError(sysErr('EHOSTUNREACH')), 'No route to host');
  assert.equal(describeSystemError(sysErr('ENETUNREACH')), 'Network is unreachable');
  // Not in our table: libuv's words, capitalized.
  assert.equal(describeSystemError(sysErr('ENETDOWN')), 'Network is down');
  assert.equal(describeSystemError(sysErr('EPROTO')), 'Protocol error');
  assert.equal(describeSystemError(new Error('plain words')), 'plain words');
});

test('resolver failures: what happened, then the name', () => {
  assert.equal(describeResolverError('nosuchhost', dnsErr('ENOTFOUND')), 'host not found: nosuchhost');
  assert.equal(describeResolverError('nosuchhost', dnsErr('ENOTFOUND'), 6), 'host not found: nosuchhost (IPv6 addresses only were asked for)');
  assert.equal(describeResolverError('nosuchhost', dnsErr('EAI_AGAIN')), 'temporary failure in name resolution: nosuchhost');
  assert.equal(describeResolverError('nosuchhost', dnsErr('EAI_FAIL')), 'name resolution failed (the name server gave a permanent error): nosuchhost');
  for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'EAI_FAMILY', 'EAI_MEMORY', 'EAI_SERVICE']) {
    const words = describeResolverError('nosuchhost', dnsErr(code));
    assert.doesNotMatch(words, /E[A-Z]*_?[A-Z]{3,}/, `${code}: ${words}`);
    assert.match(words, /: nosuchhost$/);
  }
});

test('connect failures: a resolver error in its words, any other as "unable to connect to HOST port PORT"', () => {
  assert.equal(describeConnectError('nosuchhost', 443, dnsErr('ENOTFOUND')), 'host not found: nosuchhost');
  assert.equal(describeConnectError('127.0.0.1', 1, sysErr('ECONNREFUSED')), 'unable to connect to 127.0.0.1 port 1: Connection refused');
  assert.equal(describeConnectError('10.0.0.1', 443, sysErr('ETIMEDOUT')), 'unable to connect to 10.0.0.1 port 443: Connection timed out');
});

test('s6-tlsclient: a name that does not resolve -> 111, "host not found: NAME"', async (t) => {
  const pki = new Pki();
  t.after(() => pki.remove());
  const cafile = pki.cert('root', { ca: true }).certPath;
  const r = await runCommand(join(REPO, 'bin', 's6-tlsclient'), ['nosuchhost.invalid', '443'], { CAFILE: cafile, RES_OPTIONS: 'attempts:1 timeout:2' });
  assert.equal(r.code, 111);
  assert.equal(r.stderr, 's6-tlsclient: fatal: host not found: nosuchhost.invalid\n');
  const v4 = await runCommand(join(REPO, 'bin', 's6-tlsclient'), ['-4', 'nosuchhost.invalid', '443'], { CAFILE: cafile, RES_OPTIONS: 'attempts:1 timeout:2' });
  assert.equal(v4.code, 111);
  assert.equal(v4.stderr, 's6-tlsclient: fatal: host not found: nosuchhost.invalid (IPv4 addresses only were asked for)\n');
});
