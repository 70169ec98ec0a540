import type { Series } from "./stats.ts";

const escapeXml = (text: string) => text.replace(/&/gu, "&amp;").replace(/</gu, "&lt;").replace(/>/gu, "&gt;");

/**
 * One row per latency series on a shared logarithmic axis: every sample as a dot, the p50 as a bar,
 * the p95 as a tick. SVG, so it renders on GitHub and in any browser without tools.
 */
export function latencyChart(series: readonly Series[], title: string): string {
  const rowHeight = 30;
  const left = 330;
  const width = 980;
  const plotWidth = width - left - 30;
  const top = 50;
  const height = top + series.length * rowHeight + 50;
  const all = series.flatMap((s) => s.samples).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.max(0.01, Math.min(...all))));
  const hi = Math.ceil(Math.log10(Math.max(...all)));
  const x = (ms: number) => left + ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / Math.max(1, hi - lo)) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let decade = lo; decade <= hi; decade += 1) {
    const gx = x(10 ** decade);
    const label = 10 ** decade >= 1000 ? `${10 ** (decade - 3)} s` : `${10 ** decade} ms`;
    parts.push(`<line x1="${gx}" y1="${top - 10}" x2="${gx}" y2="${height - 40}" stroke="#ddd"/>`);
    parts.push(`<text x="${gx}" y="${height - 22}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  series.forEach((s, row) => {
    const y = top + row * rowHeight + rowHeight / 2;
    parts.push(`<text x="${left - 10}" y="${y + 4}" text-anchor="end">${escapeXml(s.name)} (n=${s.n})</text>`);
    for (const sample of s.samples) parts.push(`<circle cx="${x(sample).toFixed(1)}" cy="${y}" r="2.5" fill="#4a7ebb" fill-opacity="0.45"/>`);
    parts.push(`<line x1="${x(s.p50)}" y1="${y - 10}" x2="${x(s.p50)}" y2="${y + 10}" stroke="#c0392b" stroke-width="3"/>`);
    parts.push(`<line x1="${x(s.p95)}" y1="${y - 6}" x2="${x(s.p95)}" y2="${y + 6}" stroke="#e67e22" stroke-width="2"/>`);
  });
  parts.push(`<text x="${left}" y="${height - 6}" fill="#555">dots: samples · red: p50 · orange: p95 · log scale</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
