import { KMS_MAX_HEIGHT, KMS_MAX_WIDTH } from '../../drivers/index.ts';
import type { FrameFormat } from '../../formats/index.ts';
import type { ScenarioSpec } from '../scenario-schema.ts';
import type { StageDescriptor, StageFormats } from './descriptor.ts';

export type { StageFormats } from './descriptor.ts';

/** A pipeline that cannot work, found before anything runs: which process and field. */
export class StagePlanError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The descriptor of a stage name (the scenario schema admits only names the table has). */
export function stageNamed(table: readonly StageDescriptor[], name: string): StageDescriptor {
  const d = table.find((s) => s.name === name);
  if (!d) throw new Error(`no stage named '${name}' in the stage table`);
  return d;
}

/** "a, b or c". */
function orList(names: string[]): string {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : (names[0] ?? '');
}

/**
 * Follows the frames through a process pipeline: a source first, a sink
 * (or a stage that may end it) last, and at each link the format one
 * stage gives is one the next can take, as each stage's descriptor
 * plans it. Throws StagePlanError naming the process and field that
 * break it.
 */
export function planFormats(spec: ScenarioSpec, table: readonly StageDescriptor[]): StageFormats[] {
  const stages = spec.processes ?? [];
  const sources = table.filter((d) => d.role === 'source').map((d) => d.name);
  const enders = table.filter((d) => d.role === 'sink' || d.mayEnd).map((d) => d.name);
  const out: StageFormats[] = [];
  let prev: FrameFormat | null = null;
  stages.forEach((st, i) => {
    const fail = (field: string, msg: string): never => {
      throw new StagePlanError(i, field, msg);
    };
    const d = stageNamed(table, st.stage);
    const last = i === stages.length - 1;
    if (d.role === 'peer') {
      // peers pass no frames in one direction: they stand only beside other peers, two at least
      const other = stages.find((x) => stageNamed(table, x.stage).role !== 'peer');
      if (other) fail('stage', `a ${d.name} process stands only beside other peers, not beside ${other.stage}`);
      if (stages.length < 2) fail('stage', `a ${d.name} process needs a peer`);
    } else if (d.role === 'alone') {
      if (stages.length !== 1) fail('stage', `a ${d.name} process runs alone`);
    } else if ((d.role === 'source') !== (i === 0)) {
      fail('stage', i === 0 ? `a pipeline starts with a source (${sources.join(', ')}), not ${d.name}` : `a ${d.name} process can only come first`);
    }
    if (d.role === 'sink' && !last) fail('stage', `a ${d.name} process ends the pipeline`);
    if (last && i > 0 && d.role !== 'sink' && d.role !== 'peer' && !d.mayEnd) fail('stage', `the last process must consume the frames (${orList(enders)}), not ${d.name}`);
    const f = d.plan({ st, prev, scenario: spec, fail });
    // The display's mode is the size of the frames it shows; no mode is larger than the KMS limits.
    const shown = d.setsDisplayMode ? f.inFmt : null;
    if (shown && (shown.width > KMS_MAX_WIDTH || shown.height > KMS_MAX_HEIGHT))
      fail('stage', `a ${d.name} shows at most ${KMS_MAX_WIDTH}x${KMS_MAX_HEIGHT} (the largest display mode); its frames are ${shown.width}x${shown.height}`);
    out.push(f);
    prev = f.outFmt;
  });
  return out;
}
