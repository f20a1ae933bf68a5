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

export function toRoff(name: string, markdown: string): string {
  const out = [`.TH ${name.toUpperCase()} 1 "" "s6-tlsc-io" "User Commands"`];
  const lines = markdown.split('\n');
  // "# name - what it does" is the NAME line; the first paragraph the description.
  out.push('.SH NAME', inline(lines[0].replace(/^# /, '')).replace(' - ', ' \\- '), '.SH DESCRIPTION');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('## ')) {
      out.push(`.SH ${line.slice(3).toUpperCase()}`);
      continue;
    }
    if (line.startsWith('    ')) {
      out.push('.PP', '.nf', '.RS 4');
      while (i < lines.length && lines[i].startsWith('    ')) out.push(inline(lines[i++].slice(4)));
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
    if (line.startsWith('- ')) {
      out.push('.IP \\(bu 2', inline(line.slice(2)));
      continue;
    }
    if (line.trim() === '') {
      out.push('.PP');
      continue;
    }
    out.push(inline(line));
  }
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
