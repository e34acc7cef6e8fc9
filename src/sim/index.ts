/**
 * DOC: sim — platforms, scenarios and runs
 *
 * Turns user files into systems. A platform file (YAML) is parsed, validated
 * against its schema and checked for consistency; any problem is an
 * InputError naming file, line, column and field, raised before anything is
 * built. Built-in platforms and scenarios live in examples/ and are named
 * without their extension.
 *
 * A sweep (sweep/) edits those files by path before they are validated, one
 * point per combination of values; each point carries its edited texts, so
 * it runs on a worker thread (or another machine) from them alone, and a
 * value the schema refuses is an invalid row, never an exception. Rows go
 * to an SQLite file owned by the process that runs the sweep; shards write
 * files of their own, joined afterwards.
 */
export { bootSystem, type BootOptions, type System } from './boot.ts';
export { execProgram, type ExecResult } from './exec.ts';
export { C_TOOLCHAIN_PACKAGES, cToolchainProblem, cacheDir, cachedCBuild, compileC, linuxSourceFiles, linuxSourceFilesAsync } from './c-build.ts';
export { InputError } from './input-error.ts';
export type { PlatformSpec } from './platform-schema.ts';
export { builtinPlatforms, builtinScenarios, describePlatform, loadPlatform, parsePlatform, platformSite } from './platform.ts';
export type { CostEntry, CostKind, CpuUsage, ProcessCpu, RunCosts, RunObserver, RunResult, SteadyCostEntry } from './run-result.ts';
export { runScenario, type RunOptions } from './run.ts';
export type { ScenarioSpec } from './scenario-schema.ts';
export { checkScenarioFlag, loadScenario, loadScenarioPlatform, parseScenario, type LoadedScenario } from './scenario.ts';
export { ResultDb } from './sweep/db.ts';
export { flattenMetrics } from './sweep/metrics.ts';
export { planPoints, type PointInput, type SweepSpec } from './sweep/plan.ts';
export { loadPoint, runFailure, runPoint, type PointRow, type PointStatus } from './sweep/point.ts';
export { defaultJobs } from './sweep/pool.ts';
export { resultVersion } from './sweep/version.ts';
export { parseSetArg, sizeText, type AxisValue, type SetArg } from './sweep/set-value.ts';
export { inShard, shardFile, shardOf, SHARD_COUNT_ENV, type Shard } from './sweep/shard.ts';
export { isSweepFile, loadSweepFile, yamlFileFields } from './sweep/sweep-file.ts';
export { mergeResults, runSweep, type SweepOptions, type SweepOutcome } from './sweep/sweep.ts';
