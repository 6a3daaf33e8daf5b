// The status pages' kit (docs/cli.md, "Status pages"): HTML escaping, one stylesheet, tables and the page
// frame. Rendered on the server, no script, nothing fetched from elsewhere: the Content-Security-Policy
// allows only this inline stylesheet (by its hash).
import * as crypto from 'node:crypto';

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A trusted HTML fragment (already escaped). */
export interface Html {
  readonly html: string;
}

export const raw = (html: string): Html => ({ html });

/** A table cell: text (escaped) or a fragment. */
export type Cell = string | number | Html;

const cell = (c: Cell): string => (typeof c === 'object' ? c.html : esc(c));

const CSS = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--card:#fff;--accent:#2f5bd3;--ok:#1a7f4b;--warn:#b54708;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:14px 28px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0;font-weight:600}
header .sub{color:#b8c0d0;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:20px 28px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:0 0 18px;overflow:hidden}
section h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0;padding:12px 16px;border-bottom:1px solid var(--line);background:#fbfbfc}
section p{margin:12px 16px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:8px 16px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px}
tr:last-child td{border-bottom:0}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
code,pre{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:0;padding:12px 16px;overflow:auto;background:#fbfbfc;max-height:420px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;margin:12px 16px}
dt{color:var(--muted)}dd{margin:0}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;border:1px solid}
.ok{color:var(--ok);border-color:#a6dcc0;background:#ecfdf3}
.warn{color:var(--warn);border-color:#fedf89;background:#fffaeb}
.bad{color:var(--bad);border-color:#fecdca;background:#fef3f2}
.off{color:var(--muted);border-color:var(--line);background:#f2f4f7}
.muted{color:var(--muted)}
a{color:var(--accent)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 0 24px}
`;

const CSS_HASH = crypto.createHash('sha256').update(CSS).digest('base64');

/** Headers for a page: no script, no framing, no other origin; only our stylesheet. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${CSS_HASH}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** A whole page: a header bar, the sections, a footer. */
export function page(title: string, subtitle: string, sections: string[], footer: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><span class="sub">${esc(subtitle)}</span></header>
<main>
${sections.join('\n')}
</main>
<footer>${esc(footer)}</footer>
</body></html>
`;
}

/** A titled section holding an HTML fragment. */
export function section(title: string, body: string): string {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

/** A table, or a muted line when there are no rows. `numeric` names the columns to align as numbers. */
export function table(head: string[], rows: Cell[][], empty: string, numeric: number[] = []): string {
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  const td = (c: Cell, i: number) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${cell(c)}</td>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

/** Key/value pairs. */
export function facts(pairs: Array<[string, Cell]>): string {
  return `<dl>${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${cell(v)}</dd>`).join('')}</dl>`;
}

export type Tone = 'ok' | 'warn' | 'bad' | 'off';

export function pill(text: string, tone: Tone): Html {
  return raw(`<span class="pill ${tone}">${esc(text)}</span>`);
}

export function code(text: string): Html {
  return raw(`<code>${esc(text)}</code>`);
}

/** 1536 -> "1.5 KiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "12 s ago" style age of a time, or "never". */
export function ago(t: Date | string | null, now = Date.now()): string {
  if (t === null) return 'never';
  const ms = now - new Date(t).getTime();
  if (!Number.isFinite(ms)) return 'unknown';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
