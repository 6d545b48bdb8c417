// The lab's output folder: report.json (the data), report.html (charts and tables, one
// self-contained file) and summary.md (the tables, for a terminal or a pull request).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabReport } from '#lab/lab-result.ts';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';

export { renderHtml } from './html.ts';
export { renderMarkdown } from './markdown.ts';

/** Writes report.json, report.html and summary.md into dir (created if missing); returns their paths. */
export async function writeReport(dir: string, report: LabReport): Promise<{ json: string; html: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const paths = { json: join(dir, 'report.json'), html: join(dir, 'report.html'), markdown: join(dir, 'summary.md') };
  // Render before writing, so a rendering bug leaves no half-written folder behind.
  const html = renderHtml(report);
  const markdown = renderMarkdown(report);
  await Promise.all([
    writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`),
    writeFile(paths.html, html),
    writeFile(paths.markdown, markdown),
  ]);
  return paths;
}
