import { loadPlatform, loadScenario, runScenario } from '../src/sim/index.ts';
import type { BenchResult } from './harness.ts';

/**
 * camera-preview at 1080p60 with byte-accurate frames (every frame written
 * by the camera through its SMMU, read by the display, compared byte for
 * byte), and the four-process video-playback pipeline at 720p30:
 * simulated seconds per wall second, against real time.
 */
export default async function benchPipeline(): Promise<BenchResult[]> {
  const s = loadScenario('camera-preview');
  s.spec.format = { width: 1920, height: 1080, fourcc: 'XR24' };
  s.spec.fps = 60;
  const r = await runScenario(s, loadPlatform('armv7-mobile'), { frames: 300 });
  if (!r.integrity.ok) throw new Error('camera-preview at 1080p60 lost integrity');
  const simSec = r.simTimeNs / 1e9;
  const wallSec = r.wallMs / 1000;
  // The four-process video pipeline at 720p30: decoder, ISP, GPU and display each in their own process.
  const v = loadScenario('video-playback');
  v.spec.format = { width: 1280, height: 720, fourcc: 'NV12' };
  const vr = await runScenario(v, loadPlatform('armv7-mobile'), { frames: 90 });
  if (!vr.integrity.ok) throw new Error('video-playback at 720p30 lost integrity');
  return [
    {
      bench: 'pipeline.video-playback-720p30',
      metrics: { frames: vr.frames, simSeconds: vr.simTimeNs / 1e9, wallSeconds: vr.wallMs / 1000, framesChecked: vr.integrity.framesChecked, tlbMisses: vr.iommu.tlbMisses },
      ratios: { simSecondsPerWallSecond: vr.simTimeNs / 1e9 / (vr.wallMs / 1000) },
    },
    {
      bench: 'pipeline.camera-preview-1080p60',
      metrics: { frames: r.frames, simSeconds: simSec, wallSeconds: wallSec, bytesPerFrame: 1920 * 1080 * 4, tlbMisses: r.iommu.tlbMisses },
      ratios: { simSecondsPerWallSecond: simSec / wallSec, target: 5 },
    },
  ];
}
