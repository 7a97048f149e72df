import { defineConfig } from 'vite';

// `npm run build` writes dist/, which `spectra serve` serves at / on the LIMS port (WEB_ROOT).
// Bundles are named by their content (assets/index-<hash>.js), so the server caches them for a year.
// `npx vite` serves the app for development, passing the API to a running `make run`.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false, target: 'es2022' },
  server: {
    port: 5173,
    proxy: { '/api': 'http://127.0.0.1:8002', '/config.json': 'http://127.0.0.1:8002' },
  },
});
