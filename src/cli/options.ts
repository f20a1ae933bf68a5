// The skarnet option parser (skalibs' gol), as SPEC section 2 describes it.
// Pure: argv in, flags, values and operands out, or a UsageError.

import { UsageError } from '../base/errors';

export interface FlagSpec {
  /** short letter, if any */
  short?: string;
  /** long name, if any, without the leading "--" */
  long?: string;
  /** the record key this flag sets */
  key: string;
  /** the value the key takes when this flag is seen (last one wins) */
  value: boolean;
  /** what it does, for --help: one sentence, defaults said */
  help: string;
}

export interface ArgSpec {
  short?: string;
  long?: string;
  /** other long names accepted for compatibility */
  aliases?: readonly string[];
  key: string;
  /** repeatable options collect every value; others keep the last one */
  repeatable?: boolean;
  /** what it does, for --help: one sentence, defaults said */
  help: string;
  /** how --help names the value (-k servername); default: the key */
  valueName?: string;
}

export interface OptionTable {
  flags: readonly FlagSpec[];
  args: readonly ArgSpec[];
}

export interface ParsedOptions {
  flags: Record<string, boolean>;
  values: Record<string, string[]>;
  operands: string[];
}

/** `--help` was asked for: not an error, the program prints its help and exits 0. */
export class HelpRequested extends Error {
  constructor() {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

export function parseOptions(argv: readonly string[], table: OptionTable): ParsedOptions {
  const flags: Record<string, boolean> = {};
  const values: Record<string, string[]> = {};
  const setValue = (spec: ArgSpec, value: string): void => {
    values[spec.key] = spec.repeatable ? [...(values[spec.key] ?? []), value] : [value];
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') break;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (name === 'help') {
        if (eq >= 0) throw new UsageError('option --help takes no value');
        throw new HelpRequested();
      }
      const flag = table.flags.find((f) => f.long === name);
      if (flag) {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        flags[flag.key] = flag.value;
        continue;
      }
      const spec = table.args.find((a) => a.long === name || a.aliases?.includes(name));
      if (!spec) throw new UsageError(`unknown option --${name}`);
      if (eq < 0) throw new UsageError(`option --${name} requires a value (--${name}=value)`);
      setValue(spec, arg.slice(eq + 1));
      continue;
    }
    // A group of short options; one that takes a value ends the group.
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j];
      const flag = table.flags.find((f) => f.short === letter);
      if (flag) {
        flags[flag.key] = flag.value;
        continue;
      }
      const spec = table.args.find((a) => a.short === letter);
      if (!spec) throw new UsageError(`unknown option -${letter}`);
      if (j + 1 < arg.length) {
        setValue(spec, arg.slice(j + 1));
      } else {
        const next = argv[i + 1];
        if (next === undefined || next === '--') throw new UsageError(`option -${letter} requires a value`);
        setValue(spec, next);
        i++;
      }
      break;
    }
  }
  return { flags, values, operands: argv.slice(i) };
}

/** skalibs' uint0_scan: the whole string is unsigned decimal, within 32 bits. */
export function parseUnsigned(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * The command line that means `flags` and `values` again, for options of
 * `table` only: how a wrapper hands its options on to another program.
 */
export function optionArgv(table: OptionTable, flags: Record<string, boolean>, values: Record<string, string[]>): string[] {
  const argv: string[] = [];
  for (const [key, value] of Object.entries(flags)) {
    const spec = table.flags.find((f) => f.key === key && f.value === value);
    if (spec) argv.push(spec.long ? `--${spec.long}` : `-${spec.short}`);
  }
  for (const [key, list] of Object.entries(values)) {
    const spec = table.args.find((a) => a.key === key);
    if (!spec) continue;
    for (const value of list) argv.push(...(spec.long ? [`--${spec.long}=${value}`] : [`-${spec.short}`, value]));
  }
  return argv;
}
