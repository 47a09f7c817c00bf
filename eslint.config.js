// `npx eslint`: the page, the bench page, the embed example, the crate's JS snippets, the tools
// and the e2e tests.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['pkg/**', 'pkg-*/**', 'target/**', 'node_modules/**', 'fuzz/**', 'bench-results/**'] },
  js.configs.recommended,
  {
    files: ['www/**/*.js', 'examples/**/*.js', 'src/**/*.js'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  {
    files: ['sw.js'],
    languageOptions: { globals: globals.serviceworker },
  },
  {
    // Node scripts; the functions they hand to page.evaluate run in the browser.
    files: ['tools/**/*.mjs', 'tests/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
];
