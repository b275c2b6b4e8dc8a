// Bundles the map page into ../service/ui_dist (what castlegate serves at /ui and the wheel
// ships): app.js (src/main.js with sigma, graphology and uPlot), app.css (src/style.css with
// uPlot's stylesheet), index.html. No CDN, no inline script or style: the page's content
// policy allows only 'self'. Deterministic: same lock, same sources, same bytes.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "service", "ui_dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir: out,
  logLevel: "warning",
});
await build({
  entryPoints: { app: join(here, "src", "style.css") },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
console.log(`map page built into ${out}`);
