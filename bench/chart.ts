// A small hand-written SVG bar chart: one horizontal bar per target, its
// ratio, and a tick where the target lies (green: met, red: missed).

export interface Bar {
  label: string;
  value: number;
  goal: number;
  higherIsBetter: boolean;
  pass: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderChart(bars: Bar[], title: string): string {
  const width = 720;
  const left = 250;
  const right = 120;
  const rowH = 30;
  const top = 44;
  const plotW = width - left - right;
  const finite = bars.map((b) => (Number.isFinite(b.value) ? Math.max(0, b.value) : 0));
  const max = Math.max(2, ...finite, ...bars.map((b) => b.goal)) * 1.05;
  const x = (v: number): number => Math.round((left + (Math.min(v, max) / max) * plotW) * 10) / 10;
  const height = top + bars.length * rowH + 34;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${width / 2}" y="36" text-anchor="middle" fill="#555">ratio (bar) and target (black tick); green = target met</text>`);
  for (let g = 0; g <= Math.floor(max); g++) {
    out.push(`<line x1="${x(g)}" y1="${top - 4}" x2="${x(g)}" y2="${top + bars.length * rowH}" stroke="#ddd"/>`);
    out.push(`<text x="${x(g)}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${g}x</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const v = finite[i];
    out.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(v) - left)}" height="${rowH - 12}" fill="${b.pass ? '#3a9d5d' : '#d0473d'}"/>`);
    out.push(`<line x1="${x(b.goal)}" y1="${y + 2}" x2="${x(b.goal)}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2"/>`);
    const text = Number.isFinite(b.value) ? `${b.value.toFixed(2)}x ${b.higherIsBetter ? '(>=' : '(<='} ${b.goal})` : 'n/a';
    out.push(`<text x="${Math.min(x(v), left + plotW) + 4}" y="${y + 18}" fill="#222">${esc(text)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
