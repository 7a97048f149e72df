/// <reference types="node" />
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// The app's page paths, read from each page module's `export const routes = [...]` (the one list the
// router uses), written to dist/pages.json: the server answers index.html for these paths only, and a
// 404 problem for any other, so that a typo in a URL never looks like success.
function pagesJson(): Plugin {
  return {
    name: 'spectra-pages-json',
    generateBundle() {
      const dir = join(import.meta.dirname, 'src', 'pages');
      const paths = new Set<string>(['/']);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.tsx'))) {
        const source = readFileSync(join(dir, file), 'utf8');
        const block = /export const routes = \[([\s\S]*?)\n\];/.exec(source);
        if (!block) continue;
        const entries = block[1].split('\n').filter((line) => line.includes('page:'));
        for (const entry of entries) {
          const path = /path: '([^']+)'/.exec(entry);
          if (!path) throw new Error(`${file}: a route without a literal path: ${entry.trim()}`);
          paths.add(path[1]);
        }
      }
      this.emitFile({ type: 'asset', fileName: 'pages.json', source: JSON.stringify([...paths].sort()) });
    },
  };
}

// `npm run build` writes dist/, which `spectra serve` serves at / on the LIMS port (WEB_ROOT).
// Bundles are named by their content (assets/index-<hash>.js), so the server caches them for a year.
// `npx vite` serves the app for development, passing the API to a running `make run`.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [pagesJson()],
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false, target: 'es2022' },
  server: {
    port: 5173,
    proxy: { '/api': 'http://127.0.0.1:8002', '/config.json': 'http://127.0.0.1:8002' },
  },
});
