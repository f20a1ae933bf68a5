// The access rules of s6-tcpserver-access (its -i rulesdir and -x rulesfile),
// for one client connection: allow or deny, and what to change in the
// environment. The keys, the order they are tried in and the meaning of a
// rule follow s6's libs6 (s6_accessrules_keycheck_ip4/ip6/reversedns,
// s6_accessrules_backend_fs/cdb); doc/access-rules.md says where we part
// from it and why (files that would hang or flood the server, or be cut).
//
// What the caller does with the verdict, as s6-tcpserver-access.c does:
//   - allow: accept. Apply `env` to prog's environment (undefined = unset),
//     then the server's own variables (TCPREMOTEHOST...), which C appends
//     after the rule's and so win. `exec`, when present, replaces prog (C
//     runs it as `execlineb -c EXEC`).
//   - deny: refuse (C exits 1, logging "deny" at verbosity 2).
//   - none: no rule matched. C refuses this too: at once when it does no
//     DNS lookup (-H), else after the name's rules also matched nothing. A
//     caller that looks names up lazily may call check(ip) first and
//     resolve the name only on `none`, then check(ip, name).
//   - a thrown FatalError (exit code 111): the ruleset could not be read or
//     holds something we refuse to read. C's s6-tcpserver-access dies with
//     111 for that one connection; the caller drops that connection with
//     the message and keeps serving.
// Without -i or -x there is no AccessRules at all, and C allows everyone.

import { accessSync, closeSync, constants, Dir, fstatSync, opendirSync, openSync, readSync, statSync } from 'fs';
import { isIP } from 'net';
import { EXIT_SYSTEM, FatalError, UsageError, describeSystemError, oneLine } from '../base/errors';

export type AccessVerdict =
  | { kind: 'allow'; env: Map<string, string | undefined>; exec?: string }
  | { kind: 'deny' }
  | { kind: 'none' };

export interface AccessRules {
  /** `ip` as Node reports it (IPv4-mapped IPv6 counts as IPv4); `remoteHost` when a name is known. */
  check(ip: string, remoteHost?: string): AccessVerdict;
}

// s6's bounds: skalibs' envdir reads at most 4095 bytes of a variable's
// file; the cdb backend refuses more than 4096 bytes of environment changes
// or of exec, and a record of more than 8197 bytes.
const MAX_VALUE_FILE = 4095;
const MAX_ENV_BYTES = 4096;
const MAX_EXEC_BYTES = 4096;
const MAX_CDB_RECORD = 8197;
// Ours: an env/ directory is read entry by entry, and stops here whatever it
// holds (dot files and names with '=' are skipped, but still cost a read).
const MAX_ENV_ENTRIES = 4096;
/** A rules cdb is read whole into memory: no ruleset needs more. */
const MAX_CDB_FILE = 64 * 1024 * 1024;

/** A ruleset that cannot be read; check() turns it into C's "unable to check" FatalError. */
class BrokenRuleset extends Error {}

function broken(path: string, words: string): BrokenRuleset {
  return new BrokenRuleset(`${path}: ${words}`);
}

type Lookup = (key: string) => AccessVerdict;

// ---- the keys, in the order libs6 tries them ----

/** "ip4/a.b.c.d_N" from /32 down to 0.0.0.0_0 (s6_accessrules_keycheck_ip4.c). */
function* ip4Keys(address: number): Generator<string> {
  for (let cleared = 0; cleared <= 32; cleared++) {
    // JavaScript shifts count modulo 32, so the /0 mask is spelled out.
    const mask = cleared === 32 ? 0 : (0xffffffff << cleared) >>> 0;
    const prefix = (address & mask) >>> 0;
    const text = [prefix >>> 24, (prefix >>> 16) & 255, (prefix >>> 8) & 255, prefix & 255].join('.');
    yield `ip4/${text}_${32 - cleared}`;
  }
}

/** "ip6/PREFIX_N" from /128 down to ::_0, one low bit cleared at a time (s6_accessrules_keycheck_ip6.c). */
function* ip6Keys(bytes: Uint8Array): Generator<string> {
  const prefix = Uint8Array.from(bytes);
  for (let cleared = 0; cleared <= 128; cleared++) {
    if (cleared) prefix[(128 - cleared) >> 3] &= ~(1 << ((cleared - 1) & 7));
    yield `ip6/${formatIp6(prefix)}_${128 - cleared}`;
  }
}

/**
 * skalibs' ip6_fmt: lowercase hex groups without leading zeros, the longest
 * run of two or more zero groups (the first of equals) written "::", and no
 * dotted IPv4 tail. A rule directory must be named in this form.
 */
export function formatIp6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The 16 bytes of an IPv6 address that net.isIP() accepted (zone already removed). */
function ip6Bytes(text: string): Uint8Array {
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // A dotted IPv4 tail is two groups.
    const [a, b, c, d] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest === undefined ? [] : rest ? rest.split(':') : [];
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  return bytes;
}

/**
 * The keys for a client address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d,
 * what a dual-stack Node socket reports for an IPv4 client) is the IPv4
 * client it stands for, so it is checked under ip4/. A scope ("%eth0") is
 * not part of the address s6 sees, and is dropped.
 */
function ipKeys(ip: string): Generator<string> {
  const address = ip.replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) {
    const [a, b, c, d] = address.split('.').map(Number);
    return ip4Keys((((a << 24) | (b << 16) | (c << 8) | d) >>> 0));
  }
  if (family === 6) {
    const bytes = ip6Bytes(address);
    const mapped = bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (mapped) return ip4Keys(((bytes[12] << 24) | (bytes[13] << 16) | (bytes[14] << 8) | bytes[15]) >>> 0);
    return ip6Keys(bytes);
  }
  // C's s6-tcpserver-access dies 100 on a TCPREMOTEIP it cannot read.
  throw new UsageError(`invalid client address: ${oneLine(ip)}`, true);
}

/**
 * "reversedns/NAME", then each shorter suffix after a dot, then
 * "reversedns/@" (s6_accessrules_keycheck_reversedns.c; one final dot is
 * dropped). A suffix that cannot be a rule's name is skipped: one with a
 * '/' or NUL would make the fs backend look outside reversedns/ (a PTR
 * record is the client's to write), and one starting with '.' (empty labels,
 * "a..b") would name "." or "..", or a dot file that s6-accessrules-cdb-from-fs
 * never compiles. The cdb could hold none of these keys anyway.
 */
function* nameKeys(name: string): Generator<string> {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  for (let start = 0; start < bare.length; ) {
    const suffix = bare.slice(start);
    if (!suffix.startsWith('.') && !/[/\0]/.test(suffix)) yield `reversedns/${suffix}`;
    const dot = bare.indexOf('.', start);
    start = dot < 0 ? bare.length : dot + 1;
  }
  yield 'reversedns/@';
}

function firstMatch(keys: Iterable<string>, lookup: Lookup): AccessVerdict {
  for (const key of keys) {
    const verdict = lookup(key);
    if (verdict.kind !== 'none') return verdict;
  }
  return { kind: 'none' };
}

/**
 * The frame both backends share: the address first; a name only when the
 * address matched no rule (as s6-tcpserver-access does), and an empty name
 * is no name. Only FatalError leaves: anything else becomes one.
 */
function rules(kind: 'fs' | 'cdb', path: string, prepare: () => void, lookup: Lookup, onNone: () => void = () => {}): AccessRules {
  return {
    check(ip: string, remoteHost?: string): AccessVerdict {
      const keys = ipKeys(ip);
      let what = 'IP';
      try {
        prepare();
        let verdict = firstMatch(keys, lookup);
        if (verdict.kind === 'none' && remoteHost) {
          what = 'reverse DNS';
          verdict = firstMatch(nameKeys(remoteHost), lookup);
        }
        if (verdict.kind === 'none') onNone();
        return verdict;
      } catch (err) {
        if (err instanceof FatalError) throw err;
        const words = err instanceof BrokenRuleset ? err.message : describeSystemError(err);
        throw new FatalError(EXIT_SYSTEM, `unable to check ${kind} ruleset for ${what} in ${oneLine(path)}: ${oneLine(words)}`);
      }
    },
  };
}

// ---- reading files that may be hostile ----

/**
 * At most `cap` bytes of a regular file, or the errno code when it cannot
 * be opened. Opened non-blocking so that a FIFO cannot stall the server
 * (C's open would wait for a writer), and refused unless fstat says it is a
 * regular file: a directory, a FIFO, a device are not rule files.
 */
function readHead(path: string, cap: number): Buffer | string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw broken(path, stats.isDirectory() ? 'a directory, not a file' : 'not a regular file');
    const buffer = Buffer.alloc(cap);
    let total = 0;
    while (total < cap) {
      const n = readSync(fd, buffer, total, cap - total, null);
      if (n === 0) break;
      total += n;
    }
    return buffer.subarray(0, total);
  } catch (err) {
    if (err instanceof BrokenRuleset) throw err;
    throw broken(path, describeSystemError(err));
  } finally {
    closeSync(fd);
  }
}

/**
 * C has an exec when the file (or the cdb field) is not empty, and passes it
 * to execlineb as a C string, so it ends at a NUL: a file starting with NUL
 * is an exec of "", which still replaces prog.
 */
function execText(bytes: Buffer): string | undefined {
  if (!bytes.length) return undefined;
  const nul = bytes.indexOf(0);
  return (nul < 0 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

/** The size of a change in s6's encoding: "NAME=value\0" sets, "NAME\0" unsets. */
function encodedSize(name: string, value: string | undefined): number {
  return Buffer.byteLength(name) + (value === undefined ? 0 : 1 + Buffer.byteLength(value)) + 1;
}

/**
 * env/ as skalibs' envdir() reads it for s6 (envdir_clamp.c, no options):
 * names starting with '.' or holding '=' are skipped; an empty file unsets
 * the variable; otherwise the value is the file's first line, trailing
 * spaces, tabs and CRs removed, NUL bytes turned into newlines (so a file
 * holding just "\n" sets the variable to ""). Any entry that cannot be read
 * makes the whole rule unreadable, as in C. No env/ at all is no change.
 */
function readEnvDir(path: string): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  let dir: Dir;
  try {
    dir = opendirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return env;
    throw broken(path, describeSystemError(err));
  }
  try {
    let size = 0;
    for (let seen = 0; ; seen++) {
      const entry = dir.readSync();
      if (!entry) break;
      if (seen >= MAX_ENV_ENTRIES) throw broken(path, `more than ${MAX_ENV_ENTRIES} entries`);
      const name = entry.name;
      if (name.startsWith('.') || name.includes('=')) continue;
      const file = `${path}/${name}`;
      // One byte more than C reads tells a first line that C would cut.
      const bytes = readHead(file, MAX_VALUE_FILE + 1);
      if (typeof bytes === 'string') throw broken(file, describeSystemError({ code: bytes }));
      let value: string | undefined;
      if (bytes.length > 0) {
        const head = bytes.subarray(0, MAX_VALUE_FILE);
        let end = head.indexOf(0x0a);
        if (end < 0) {
          // Ours: C keeps the first 4095 bytes of a longer line; we refuse a value it would cut.
          if (bytes.length > MAX_VALUE_FILE && bytes[MAX_VALUE_FILE] !== 0x0a) throw broken(file, `a first line longer than ${MAX_VALUE_FILE} bytes`);
          end = head.length;
        }
        while (end > 0 && (head[end - 1] === 0x20 || head[end - 1] === 0x09 || head[end - 1] === 0x0d)) end--;
        value = Buffer.from(head.subarray(0, end).map((b) => (b === 0 ? 0x0a : b))).toString('utf8');
      }
      size += encodedSize(name, value);
      // Ours: the bound the cdb backend sets, so both backends accept the same rules.
      if (size > MAX_ENV_BYTES) throw broken(path, `more than ${MAX_ENV_BYTES} bytes of environment changes`);
      env.set(name, value);
    }
  } catch (err) {
    if (err instanceof BrokenRuleset) throw err;
    throw broken(path, describeSystemError(err));
  } finally {
    dir.closeSync();
  }
  return env;
}

/** access(R_OK) as the fs backend uses it: ENOENT and EACCES are "no such file", other errors break the ruleset. */
function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') return false;
    throw broken(path, describeSystemError(err));
  }
}

/** One rule of a rules directory (s6_accessrules_backend_fs.c): allow wins over deny. */
function fsLookup(root: string, key: string): AccessVerdict {
  const rule = `${root}/${key}`;
  if (!readable(`${rule}/allow`)) return readable(`${rule}/deny`) ? { kind: 'deny' } : { kind: 'none' };
  const env = readEnvDir(`${rule}/env`);
  const bytes = readHead(`${rule}/exec`, MAX_EXEC_BYTES + 1);
  // C ignores an exec it cannot find or may not read.
  if (bytes === 'ENOENT' || bytes === 'EACCES') return { kind: 'allow', env };
  if (typeof bytes === 'string') throw broken(`${rule}/exec`, describeSystemError({ code: bytes }));
  // Ours: C runs the first 4096 bytes of a longer file; a cut command line is not the one written.
  if (bytes.length > MAX_EXEC_BYTES) throw broken(`${rule}/exec`, `larger than ${MAX_EXEC_BYTES} bytes`);
  const exec = execText(bytes);
  return exec === undefined ? { kind: 'allow', env } : { kind: 'allow', env, exec };
}

function describeStatError(what: string, path: string, err: unknown): FatalError {
  return new FatalError(EXIT_SYSTEM, `unable to read ${what} ${oneLine(path)}: ${describeSystemError(err)}`);
}

/**
 * -i: the rules directory, read again at every check as C does for every
 * connection, so rules edited while the server runs apply to the next
 * client. A missing directory is an error here and at a check that matched
 * nothing (C would quietly deny everyone).
 */
export function rulesFromDir(path: string): AccessRules {
  const requireRoot = (): void => {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (err) {
      throw describeStatError('rules directory', path, err);
    }
    if (!isDirectory) throw new FatalError(EXIT_SYSTEM, `unable to read rules directory ${oneLine(path)}: Not a directory`);
  };
  requireRoot();
  return rules('fs', path, () => {}, (key) => fsLookup(path, key), requireRoot);
}

// ---- cdb ----

/** djb's cdb hash: h = 5381, then h = (h * 33) ^ byte, on 32 bits. */
function cdbHash(key: Buffer): number {
  let h = 5381;
  for (const byte of key) h = ((((h << 5) >>> 0) + h) >>> 0) ^ byte;
  return h >>> 0;
}

/**
 * The record under `key` in a cdb, as skalibs' cdb_find does: 256 pointers
 * (position, slot count) at the start, the table picked by the hash's low
 * byte, linear probing from (hash >> 8) mod slots, an empty slot ends the
 * search. Every read is checked against the file's size.
 */
function cdbFind(db: Buffer, key: Buffer, path: string): Buffer | undefined {
  const word = (at: number): number => {
    if (at < 0 || at + 4 > db.length) throw broken(path, 'a corrupt cdb (a pointer past its end)');
    return db.readUInt32LE(at);
  };
  const hash = cdbHash(key);
  const tablePos = word((hash & 255) * 8);
  const slots = word((hash & 255) * 8 + 4);
  if (!slots) return undefined;
  let slot = (hash >>> 8) % slots;
  for (let probes = 0; probes < slots; probes++) {
    const at = tablePos + slot * 8;
    const recordHash = word(at);
    const recordPos = word(at + 4);
    if (!recordPos) return undefined;
    slot = (slot + 1) % slots;
    if (recordHash !== hash) continue;
    const keyLength = word(recordPos);
    const dataLength = word(recordPos + 4);
    if (keyLength !== key.length) continue;
    const start = recordPos + 8;
    if (start + keyLength + dataLength > db.length) throw broken(path, 'a corrupt cdb (a record past its end)');
    if (db.subarray(start, start + keyLength).equals(key)) return db.subarray(start + keyLength, start + keyLength + dataLength);
  }
  return undefined;
}

/** "NAME=value\0" sets, "NAME\0" unsets; a later change of the same name wins, as env_merge does. */
function decodeEnv(blob: Buffer, path: string): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  if (blob.length && blob[blob.length - 1] !== 0) throw broken(path, 'a corrupt rule (environment changes not NUL-terminated)');
  for (let start = 0; start < blob.length; ) {
    const end = blob.indexOf(0, start);
    const change = blob.subarray(start, end).toString('utf8');
    start = end + 1;
    const equals = change.indexOf('=');
    const name = equals < 0 ? change : change.slice(0, equals);
    if (!name) throw broken(path, 'a corrupt rule (a variable without a name)');
    env.set(name, equals < 0 ? undefined : change.slice(equals + 1));
  }
  return env;
}

/**
 * A record as s6-accessrules-cdb-from-fs writes it and
 * s6_accessrules_backend_cdb.c reads it: "D" denies; "A", then a 16-bit
 * big-endian length and the environment changes, then a 16-bit length and
 * the exec text, allows. Another first byte is no rule; wrong lengths are
 * a broken ruleset.
 */
function decodeRecord(data: Buffer, path: string): AccessVerdict {
  const corrupt = (why: string): BrokenRuleset => broken(path, `a corrupt rule (${why})`);
  if (!data.length || data.length > MAX_CDB_RECORD) throw corrupt(`${data.length} bytes`);
  if (data[0] === 0x44) return { kind: 'deny' };
  if (data[0] !== 0x41) return { kind: 'none' };
  if (data.length < 5) throw corrupt('too short');
  const envLength = data.readUInt16BE(1);
  if (envLength > MAX_ENV_BYTES || data.length - 5 < envLength) throw corrupt('environment length');
  const execLength = data.readUInt16BE(3 + envLength);
  if (execLength > MAX_EXEC_BYTES || 5 + envLength + execLength !== data.length) throw corrupt('exec length');
  const env = decodeEnv(data.subarray(3, 3 + envLength), path);
  const exec = execText(data.subarray(5 + envLength));
  return exec === undefined ? { kind: 'allow', env } : { kind: 'allow', env, exec };
}

interface LoadedCdb {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  size: bigint;
  bytes: Buffer;
}

function loadCdb(path: string): LoadedCdb {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw describeStatError('rules file', path, err);
  }
  try {
    const stats = fstatSync(fd, { bigint: true });
    if (!stats.isFile()) throw new FatalError(EXIT_SYSTEM, `unable to read rules file ${oneLine(path)}: not a regular file`);
    if (stats.size > BigInt(MAX_CDB_FILE)) throw new FatalError(EXIT_SYSTEM, `unable to read rules file ${oneLine(path)}: larger than ${MAX_CDB_FILE} bytes`);
    // 256 table pointers come first in every cdb, even an empty one.
    if (stats.size < 2048n) throw new FatalError(EXIT_SYSTEM, `unable to read rules file ${oneLine(path)}: not a cdb (${stats.size} bytes)`);
    const bytes = Buffer.alloc(Number(stats.size));
    let total = 0;
    while (total < bytes.length) {
      const n = readSync(fd, bytes, total, bytes.length - total, null);
      if (n === 0) throw new FatalError(EXIT_SYSTEM, `unable to read rules file ${oneLine(path)}: it shrank while being read`);
      total += n;
    }
    return { dev: stats.dev, ino: stats.ino, mtimeNs: stats.mtimeNs, size: stats.size, bytes };
  } catch (err) {
    if (err instanceof FatalError) throw err;
    throw describeStatError('rules file', path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * -x: a cdb made by s6-accessrules-cdb-from-fs. C maps it afresh for every
 * connection; we keep it in memory and read it again when a stat() at a
 * check sees another file or a changed one (device, inode, mtime, size):
 * the tool replaces the file by rename(), so a new ruleset is a new inode.
 */
export function rulesFromCdb(path: string): AccessRules {
  let loaded = loadCdb(path);
  const refresh = (): void => {
    let stats;
    try {
      stats = statSync(path, { bigint: true });
    } catch (err) {
      throw describeStatError('rules file', path, err);
    }
    if (stats.dev !== loaded.dev || stats.ino !== loaded.ino || stats.mtimeNs !== loaded.mtimeNs || stats.size !== loaded.size) loaded = loadCdb(path);
  };
  const lookup = (key: string): AccessVerdict => {
    const data = cdbFind(loaded.bytes, Buffer.from(key, 'utf8'), path);
    return data ? decodeRecord(data, path) : { kind: 'none' };
  };
  return rules('cdb', path, refresh, lookup);
}
