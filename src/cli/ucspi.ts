// The options the UCSPI TCP tools share (s6-tcpclient, s6-tcpserver and
// s6-tcpserver-access), for s6-tlsclient and s6-tlsserver: verbosity as the
// last of three flags, and the name lookups.

import type { FlagSpec, OptionTable } from './options';

export const verbosityFlags: FlagSpec[] = [
  { short: 'q', long: 'quiet', key: 'quiet', value: true, help: 'quiet: fatal messages only' },
  { short: 'Q', long: 'normally-verbose', key: 'normal', value: true, help: 'warnings too (default)' },
  { short: 'v', long: 'verbose', key: 'verbose', value: true, help: 'verbose: information messages too' },
];

export const lookupFlags: FlagSpec[] = [
  { long: 'dns', key: 'noDns', value: false, help: 'look up names (default)' },
  { short: 'H', long: 'no-dns', key: 'noDns', value: true, help: 'no name lookups' },
  { long: 'no-hosts', key: 'hosts', value: false, help: 'reverse lookups by DNS only (default)' },
  { short: 'h', long: 'hosts', key: 'hosts', value: true, help: 'reverse lookups through the hosts database first' },
  { short: 'R', long: 'no-ident', key: 'ident', value: false, help: 'no IDENT lookup (default)' },
  { short: 'r', long: 'ident', key: 'ident', value: true, help: 'IDENT lookup: accepted, not done (a warning says so)' },
];

/**
 * The last of -q, -Q and -v wins, as in the C tools: 0, 1 or 2. The parser
 * keeps one value per key, so the order is read from argv itself; `table`
 * tells which letters take a value (and end a group of flags).
 */
export function lastVerbosity(argv: readonly string[], table: OptionTable): number {
  const levels: Record<string, number> = { q: 0, Q: 1, v: 2, '--quiet': 0, '--normally-verbose': 1, '--verbose': 2 };
  let level = 1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--' || arg.length < 2 || arg[0] !== '-') break;
    if (arg.startsWith('--')) {
      if (arg in levels) level = levels[arg];
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      if (table.args.some((a) => a.short === arg[j])) {
        if (j + 1 === arg.length) i++;
        break;
      }
      if (arg[j] in levels) level = levels[arg[j]];
    }
  }
  return level;
}
