import type { Comparison } from './compare.ts';
import { formatComparison } from './compare.ts';
import { esc } from './svg.ts';

/**
 * Both sides of a comparison in one self-contained HTML file: the
 * comparison itself, then each side's full run report (as `run --report`
 * writes it) in a frame of its own, left above right.
 */
export function renderCompareHtml(c: Comparison, leftReport: string, rightReport: string): string {
  const title = `unimem compare: ${c.left} vs ${c.right}`;
  const frame = (label: string, html: string) => `<h2>${esc(label)}</h2>\n<iframe title="${esc(label)}" srcdoc="${esc(html)}"></iframe>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; max-width: 1100px; } pre { white-space: pre-wrap; background: #f9fafb; border: 1px solid #e5e7eb; padding: 10px; font-size: 12px; overflow-x: auto; } iframe { width: 100%; height: 900px; border: 1px solid #e5e7eb; }</style></head>
<body>
<h1>${esc(title)}</h1>
<h2>Side by side</h2>
<pre>${esc(formatComparison(c))}</pre>
${frame(`${c.left}: its run report`, leftReport)}
${frame(`${c.right}: its run report`, rightReport)}
</body></html>
`;
}
