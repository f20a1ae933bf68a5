// Turns the manual pages doc/PROG.md of the programs package.json installs
// (a small, fixed subset of Markdown: "# title", "## section", paragraphs,
// "- " lists, indented code, tables, links) into roff man pages under
// dist/man, for package.json's "man" field. The other pages of doc/ are not
// manual pages.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');
const outDir = join(root, 'dist', 'man');

function inline(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/^([.'])/, '\\&$1')
    // A link keeps its text; a page of its own (another program's) is named as man names them.
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_m, text: string, target: string) => (/^(https?:|mailto:)/.test(target) ? `${text} <${target}>` : text))
    .replace(/`([^`]+)`/g, '\\fB$1\\fR')
    .replace(/\*([^*]+)\*/g, '\\fI$1\\fR');
}

/** Columns a code line may take: 80, less the page's margin (7) and the block's indent (4), less one. */
const CODE_WIDTH = 68;

/** The synopsis, broken before an option group so that each line fits; the rest under the name. */
function wrapSynopsis(line: string): string[] {
  const name = line.slice(0, line.indexOf(' '));
  const groups = line.slice(name.length + 1).split(/ (?=\[ )/);
  const out: string[] = [];
  let current = name;
  for (const group of groups) {
    if (current.length + 1 + group.length > CODE_WIDTH && current.trim() !== '') {
      out.push(current);
      current = ' '.repeat(name.length) + ' ' + group;
    } else {
      current += ' ' + group;
    }
  }
  out.push(current);
  return out;
}

/** A shell line's words, quotes kept with the word they belong to. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === ' ') {
      if (word) words.push(word);
      word = '';
      continue;
    }
    word += c;
  }
  if (word) words.push(word);
  return words;
}

/**
 * An example, wrapped as a shell still reads it: between words with a
 * backslash at the end of the line; a single-quoted script too long for a
 * line is broken after its semicolons, where a newline means the same. A
 * comment goes on as another comment.
 */
function wrapShell(line: string): string[] {
  if (line.length <= CODE_WIDTH) return [line];
  if (line.startsWith('#')) {
    const out: string[] = [];
    let current = '#';
    for (const word of line.slice(1).trim().split(' ')) {
      if (current.length + 1 + word.length > CODE_WIDTH && current !== '#') {
        out.push(current);
        current = '#';
      }
      current += ' ' + word;
    }
    return [...out, current];
  }
  const out: string[] = [];
  let current = '';
  const indent = '    ';
  for (const word of shellWords(line)) {
    const pieces = word.length > CODE_WIDTH - indent.length && /'/.test(word) ? word.split(/(?<=; )/) : [word];
    for (let k = 0; k < pieces.length; k++) {
      const piece = k === 0 ? pieces[k] : pieces[k].trimEnd();
      const glue = k === 0 ? ' ' : '';
      if (current && current.length + glue.length + piece.length + 2 > CODE_WIDTH) {
        // Inside a quoted script the newline itself separates; elsewhere a backslash joins.
        out.push(k === 0 ? `${current} \\` : current.trimEnd());
        current = indent + piece;
      } else {
        current = current ? current + glue + piece : piece;
      }
    }
  }
  return [...out, current];
}

/** A Markdown list item with the lines that continue it, as one paragraph. */
function listItem(lines: string[], i: number): { text: string; next: number } {
  let text = lines[i].replace(/^\s*- /, '');
  let next = i + 1;
  while (next < lines.length && /^\s+\S/.test(lines[next]) && !/^\s*- /.test(lines[next])) text += ' ' + lines[next++].trim();
  return { text, next };
}

export function toRoff(name: string, markdown: string): string {
  const out = [`.TH ${name.toUpperCase()} 1 "" "s6-tlsc-io" "User Commands"`];
  const lines = markdown.split('\n');
  // "# name - what it does" is the NAME line; the first paragraph the description.
  out.push('.SH NAME', inline(lines[0].replace(/^# /, '')).replace(' - ', ' \\- '), '.SH DESCRIPTION');
  /** true inside a nested list (an item written "  - ") */
  let nested = false;
  const leaveNested = (): void => {
    if (nested) out.push('.RE');
    nested = false;
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (/^ {0,3}- /.test(line)) {
      // A list item, its continuation lines joined so that man reflows them; "  - " nests.
      const inner = line.startsWith(' ');
      if (inner && !nested) out.push('.RS 2');
      if (!inner) leaveNested();
      nested = inner;
      const item = listItem(lines, i);
      out.push('.IP \\(bu 2', inline(item.text));
      i = item.next - 1;
      continue;
    }
    leaveNested();
    if (line.startsWith('## ')) {
      out.push(`.SH ${line.slice(3).toUpperCase()}`);
      continue;
    }
    if (line.startsWith('    ')) {
      out.push('.PP', '.nf', '.RS 4');
      while (i < lines.length && lines[i].startsWith('    ')) {
        const code = lines[i++].slice(4);
        const wrapped = code.startsWith(`${name} [ `) ? wrapSynopsis(code) : wrapShell(code);
        out.push(...wrapped.map(inline));
      }
      out.push('.RE', '.fi');
      i--;
      continue;
    }
    if (line.startsWith('|')) {
      // A table row: its first cell as the tag of an indented paragraph, the others after it.
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
      out.push(`.TP`, inline(cells[0] || ' '), inline(cells.slice(1).filter(Boolean).join('; ')));
      continue;
    }
    if (line.trim() === '') {
      out.push('.PP');
      continue;
    }
    out.push(inline(line));
  }
  leaveNested();
  return out.join('\n') + '\n';
}

if (require.main === module) {
  mkdirSync(outDir, { recursive: true });
  const programs = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin as Record<string, string>);
  for (const name of programs) {
    const page = join(root, 'doc', `${name}.md`);
    if (!existsSync(page)) throw new Error(`doc/${name}.md is missing: every program has a manual page`);
    writeFileSync(join(outDir, `${name}.1`), toRoff(name, readFileSync(page, 'utf8')));
  }
}
