// Turns the manual pages in doc/*.md (a small, fixed subset of Markdown:
// "# title", "## section", paragraphs, "- " lists, indented code) into
// roff man pages under dist/man, for package.json's "man" field.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { basename, join } from 'path';

const root = join(__dirname, '..', '..');
const outDir = join(root, 'dist', 'man');

function inline(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/^([.'])/, '\\&$1')
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
  for (const file of readdirSync(join(root, 'doc')).filter((f) => f.endsWith('.md'))) {
    const name = basename(file, '.md');
    writeFileSync(join(outDir, `${name}.1`), toRoff(name, readFileSync(join(root, 'doc', file), 'utf8')));
  }
}
