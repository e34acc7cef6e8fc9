// Prints the cost model's calibration table: each published figure, the
// model's figure for the same work, and their ratio (npm run calibration).
import { costCalibration } from '../src/sim/cost-calibration.ts';

const us = (ns: number) => (ns / 1e3).toFixed(2);
console.log('| figure | cited (us) | model (us) | model / cited |');
console.log('|---|---|---|---|');
for (const r of costCalibration()) console.log(`| ${r.figure} | ${us(r.citedNs)} | ${us(r.modelNs)} | ${r.ratio.toFixed(3)} |`);
console.log('');
for (const s of new Set(costCalibration().map((r) => r.source))) console.log(`source: ${s}`);
