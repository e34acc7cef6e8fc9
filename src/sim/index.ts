/**
 * DOC: sim — platforms, scenarios and runs
 *
 * Turns user files into systems. A platform file (YAML) is parsed, validated
 * against its schema and checked for consistency; any problem is an
 * InputError naming file, line, column and field, raised before anything is
 * built. Built-in platforms and scenarios live in examples/ and are named
 * without their extension.
 */
export { bootSystem, type BootOptions, type System } from './boot.ts';
export { execProgram, type ExecResult } from './exec.ts';
export { InputError } from './input-error.ts';
export type { PlatformSpec } from './platform-schema.ts';
export { builtinPlatforms, builtinScenarios, describePlatform, loadPlatform, parsePlatform } from './platform.ts';
export type { CostEntry, CostKind, CpuUsage, ProcessCpu, RunCosts, RunObserver, RunResult, SteadyCostEntry } from './run-result.ts';
export { runScenario, type RunOptions } from './run.ts';
export type { ScenarioSpec } from './scenario-schema.ts';
export { checkScenarioFlag, loadScenario, loadScenarioPlatform, parseScenario, type LoadedScenario } from './scenario.ts';
