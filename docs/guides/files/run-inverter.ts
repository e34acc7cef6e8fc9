// Runs inverted-preview.yaml on with-inverter.yaml with the inverter's driver
// row and stage row added to the built-in tables, as test/sim/extend.test.ts
// does, and prints the run summary (without the wall time, which varies).
import { readFileSync } from 'node:fs';
import { PLATFORM_DRIVERS } from '../../../src/drivers/index.ts';
import { formatSummary } from '../../../src/report/index.ts';
import { STAGES } from '../../../src/sim/pipeline/stage-table.ts';
import { bootSystem, parsePlatform, parseScenario } from '../../../src/sim/index.ts';
import { runProcessScenario } from '../../../src/sim/run-processes.ts';
import { invertPlatformDriver } from '../../../test/sim/fixtures/invert-device.ts';
import { invertDescriptor } from '../../../test/sim/fixtures/invert-stage.ts';

const drivers = [...PLATFORM_DRIVERS, invertPlatformDriver];
const stages = [...STAGES, invertDescriptor];
const dir = new URL('.', import.meta.url).pathname;
const platformFile = `${dir}with-inverter.yaml`;
const scenarioFile = `${dir}inverted-preview.yaml`;
const platform = parsePlatform(platformFile, readFileSync(platformFile, 'utf8'), drivers);
const text = readFileSync(scenarioFile, 'utf8');
const scenario = { spec: parseScenario(scenarioFile, text, stages), file: scenarioFile, text, stages };
const r = await runProcessScenario(scenario, platform, {}, (p, seed) => bootSystem(p, { seed, drivers, kmsMode: { width: 320, height: 240 } }));
console.log(formatSummary(r).split('\n').filter((l) => !l.includes('wall time')).join('\n'));
