/**
 * unimem's package entry: what a userspace program or a tool embedding the
 * simulator imports. Programs get their constants from `unimem/uapi`.
 */
export type { PollFd, Sys } from './proc/index.ts';
export { SyscallError, KernelError, KernelBug } from './lib/index.ts';
export { bootSystem, execProgram, loadPlatform, loadScenario, parsePlatform, parseScenario, runScenario } from './sim/index.ts';
export type { PlatformSpec, RunResult, ScenarioSpec, System } from './sim/index.ts';
