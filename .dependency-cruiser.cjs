// The import rules of docs/architecture.md, checked by `npm test`
// (dependency-cruiser): no cycles, and no import that runs back up the
// pipeline declaration -> closure -> artifact -> machine -> guest -> checks -> report.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: "no-cycle", severity: "error", comment: "an import cycle between the project's own files", from: {}, to: { circular: true } },
    {
      name: "hypervisors-below-validation",
      severity: "error",
      comment: "hypervisors/ is the machine layer: it knows no scenario, report or family",
      from: { path: "^hypervisors/" },
      to: { path: "^(lib/(validate|cli|family|deploy|system)|scenarios)/" },
    },
    {
      name: "disk-is-formats-only",
      severity: "error",
      comment: "lib/disk holds formats and layout; systems, families and deployments use it, not the reverse",
      from: { path: "^lib/disk/" },
      to: { path: "^(lib/(system|deploy|family|validate|cli)|hypervisors|scenarios)/" },
    },
    {
      name: "families-below-deploy",
      severity: "error",
      comment: "a family builds closures and lays out its disks; it never reaches deployments, validation, the CLI or machines",
      from: { path: "^lib/family/" },
      to: { path: "^(lib/(deploy|validate|cli)|hypervisors|scenarios)/" },
    },
    {
      name: "core-below-validation",
      severity: "error",
      comment: "only validation, the CLI and scenarios drive machines",
      from: { path: "^lib/", pathNot: "^lib/(validate|cli)/" },
      to: { path: "^(hypervisors|scenarios|lib/validate|lib/cli)/" },
    },
    {
      name: "native-build-beside-the-pipeline",
      severity: "error",
      comment: "lib/native-build drives builds in guests and promotes results; only the CLI and scenarios use it",
      from: { path: "^lib/", pathNot: "^lib/(native-build|cli|validate)/" },
      to: { path: "^lib/native-build/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
  },
};
