/**
 * DOC: lib — what every layer shares
 *
 * Errno values, the three error types (KernelError for -Exxx returns,
 * KernelBug for BUG_ON, SyscallError for what userspace sees), the Finding
 * log for misuse that hardware would not stop, the fault-injection points
 * (struct fault_attr) every allocator consults, the cost ledger with the
 * thread CPU work is charged to (`current`), size helpers, and where the
 * package lies (the same from src/ as from its build in dist/). It imports
 * no other layer, so any layer may import it, as any kernel file may include
 * lib/.
 */
export { ERRNO, errnoName, type Errno } from './errno.ts';
export { KernelBug, KernelError, SyscallError, erestartsys, isKernelError, kerr } from './errors.ts';
export {
  FAULT_ATTR_KNOBS,
  FAULT_POINTS,
  FaultAttr,
  FaultInjection,
  applyFaultSettings,
  getFaultKnob,
  isFaultPointName,
  parseFaultSetting,
  setFaultKnob,
  shouldFail,
  type FaultAttrKnobs,
  type FaultPointName,
  type FaultSetting,
} from './fault-inject.ts';
export { COST_KINDS, CostLedger, isCpuCost, type CoreRun, type CostKind, type CostRecord, type CostScope } from './cost-ledger.ts';
export { currentCpuContext, newCpuContext, runAsCpuContext, type CpuContext } from './cpu-context.ts';
export { FindingLog, currentProgramSite, currentWorkSite, programSiteNow, userFrame, userPath, withFindingSite, withProgramSite, type Finding, type FindingKind } from './findings.ts';
export { packageRoot } from './package-root.ts';
export { Tracer } from './trace.ts';
export { promisesMade } from './task-locals.ts';
export { wakeCount, wakeablePromise } from './wakeable-promise.ts';
export { GiB, MiB, PAGE_SHIFT, PAGE_SIZE, alignDown, alignUp, formatBytes, hex, isPowerOfTwo } from './units.ts';
