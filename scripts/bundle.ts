// Bundles each program's compiled entry (dist/src/bin/PROG.js and the
// modules it imports) into one file beside it, PROG.bundle.js, which
// bin/PROG loads: start-up then reads and compiles one small file
// instead of resolving and loading a dozen (the program runs once per
// connection, so start-up is paid every time). Run by `npm run build`, thus
// by `npm install` through "prepare".

import { buildSync } from 'esbuild';
import { readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');
// Every program package.json installs: a new one needs only its entry there.
const programs = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin as Record<string, string>);

for (const name of programs) {
  buildSync({
    entryPoints: [join(root, 'dist', 'src', 'bin', `${name}.js`)],
    outfile: join(root, 'dist', 'src', 'bin', `${name}.bundle.js`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Node's own modules stay require()s; only ours are inlined.
    packages: 'external',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}
