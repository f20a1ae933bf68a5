// --help (SPEC section 8): the page is made from the program's own option
// table, so an option added to a table is in the help at once, with the text
// its entry carries; the environment and the exit codes are the tables below.

import type { ArgSpec, FlagSpec, OptionTable } from './options';

/** One row of a two-column list: what is named, and what it means. */
export type HelpRow = readonly [name: string, meaning: string];

/** What a program says about itself; its usage line is the synopsis. */
export interface ProgramDoc {
  name: string;
  /** the usage line, without "prog: usage: " */
  synopsis: string;
  /** one sentence: what the program does */
  summary: string;
  table: OptionTable;
  operands: readonly HelpRow[];
  environment: readonly HelpRow[];
  exitCodes: readonly HelpRow[];
}

/** The variables every program of the family reads. */
export const familyEnvironment: readonly HelpRow[] = [
  ['CADIR', 'directory of trust anchors, one certificate per file (PEM or DER) under its OpenSSL hash name (xxxxxxxx.0, as `openssl rehash DIR` makes); wins over CAFILE'],
  ['CAFILE', 'one PEM file holding every trust anchor; CADIR or CAFILE is required, even with --no-verify-cert'],
  ['CERTFILE', 'with -y: the client certificate (chain), PEM or DER'],
  ['KEYFILE', 'with -y: its private key, PEM or DER'],
  ['TLS_UID, TLS_GID', 'as root: the numeric ids to drop to (gid first) once every file is read, before the first byte of the connection'],
  ['SSLKEYLOGFILE', 'append NSS key-log lines to this file (created 0600), for debugging only'],
];

/** The engine's codes (SPEC section 7). */
export const engineExitCodes: readonly HelpRow[] = [
  ['0', 'the connection ended normally'],
  ['96', 'bad trust anchors, key or certificate'],
  ['97', 'the TLS engine could not be set up'],
  ['98', 'TLS error: handshake or session failure, handshake timeout, -J violation'],
  ['100', 'wrong usage: bad option, number or operand, missing variable'],
  ['111', 'system error: bad descriptor, read or write error, unreadable file, connection reset'],
];

/** The codes of a program that starts prog after the handshake. */
export const programExitCodes: readonly HelpRow[] = [
  ['prog\'s code', 'prog\'s exit code once it ran (128 + the signal number if it was killed)'],
  ['96', 'bad trust anchors, key or certificate; prog was not started'],
  ['97', 'the TLS engine could not be set up; prog was not started'],
  ['98', 'the handshake failed, or timed out; prog was not started'],
  ['100', 'wrong usage'],
  ['111', 'system error before prog ran, including a prog that cannot be started'],
];

const WIDTH = 79;
const NAME_COLUMN = 32;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** "  name    meaning", the meaning wrapped under itself; a long name gets a line of its own. */
function rows(list: readonly HelpRow[]): string[] {
  const out: string[] = [];
  const indent = ' '.repeat(NAME_COLUMN);
  for (const [name, meaning] of list) {
    const left = `  ${name}`;
    const text = wrap(meaning, WIDTH - NAME_COLUMN);
    if (left.length + 2 > NAME_COLUMN) {
      out.push(left, ...text.map((t) => indent + t));
    } else {
      out.push(left.padEnd(NAME_COLUMN) + (text[0] ?? ''), ...text.slice(1).map((t) => indent + t));
    }
  }
  return out;
}

/** How an option is written: "-S, --close-notify", "-k servername, --servername=servername". */
export function optionNames(spec: FlagSpec | ArgSpec, takesValue: boolean): string {
  const value = takesValue ? (spec as ArgSpec).valueName ?? spec.key : undefined;
  const long = spec.long ? `--${spec.long}${value ? `=${value}` : ''}` : undefined;
  // Long-only options line up with the long forms of the others.
  if (!spec.short) return `    ${long}`;
  const short = `-${spec.short}${value ? ` ${value}` : ''}`;
  return long ? `${short}, ${long}` : short;
}

export function optionRows(table: OptionTable): HelpRow[] {
  return [
    ...table.flags.map((f): HelpRow => [optionNames(f, false), f.help]),
    ...table.args.map((a): HelpRow => [optionNames(a, true), a.help + (a.aliases ?? []).map((alias) => `; also written --${alias}=${a.valueName ?? a.key}`).join('')]),
    ['    --help', 'print this help on stdout and exit 0'],
  ];
}

export function helpText(doc: ProgramDoc): string {
  const section = (title: string, list: readonly HelpRow[]): string[] => (list.length ? ['', `${title}:`, ...rows(list)] : []);
  return [
    `usage: ${doc.synopsis}`,
    '',
    ...wrap(doc.summary, WIDTH),
    ...section('Operands', doc.operands),
    ...section('Options', optionRows(doc.table)),
    ...section('Environment', doc.environment),
    ...section('Exit codes', doc.exitCodes),
    '',
    ...wrap(`The manual page says more: man ${doc.name} (or man -l dist/man/${doc.name}.1 in the package).`, WIDTH),
  ].join('\n') + '\n';
}
