/**
 * Import rules of the layout (docs/architecture.md), checked by
 * `npm run lint:deps` and first thing in `npm test`:
 *  - no import circles, in src/ or in packages/verify/src;
 *  - the domain folders never import the operator-facing HTTP layer
 *    (src/web), the composition root (src/server) or the CLI (src/cli);
 *  - src/web never imports src/server or src/cli.
 * Type-only imports count: a circle through types is still a circle.
 */
const DOMAIN = '^src/(accounts|audit|authn|authz|autocert|config|decision|devidp|errors|http|identity|log|observe|operations|proxy|records|store)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle ties its files together: none may be understood, tested or moved alone.',
      from: { path: '^(src|packages/verify/src)/' },
      to: { circular: true },
    },
    {
      name: 'domain-not-above',
      severity: 'error',
      comment: 'Domain folders hold no operator HTTP: they never import src/web, src/server or src/cli.',
      from: { path: DOMAIN },
      to: { path: '^src/(web|server|cli)/' },
    },
    {
      name: 'web-below-server',
      severity: 'error',
      comment: 'src/web sits below the composition root: it never imports src/server or src/cli.',
      from: { path: '^src/web/' },
      to: { path: '^src/(server|cli)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
  },
};
