/**
 * DOC: sim — platforms, scenarios and runs
 *
 * Turns user files into systems. A platform file (YAML) is parsed, validated
 * against its schema and checked for consistency; any problem is an
 * InputError naming file, line, column and field, raised before anything is
 * built. Built-in platforms and scenarios live in examples/ and are named
 * without their extension.
 */
export * from './input-error.ts';
export * from './platform.ts';
export * from './yaml-input.ts';
export { parseSize, parseBandwidth } from './units-schema.ts';
export * from './boot.ts';
export * from './scenario.ts';
export * from './run.ts';
export * from './run-processes.ts';
export * from './run-result.ts';
export * from './exec.ts';
