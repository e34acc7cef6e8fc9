import fc from 'fast-check';

// Property tests run from a fixed seed so that CI is reproducible; set
// FC_SEED to explore other sequences (a failure prints the seed to replay).
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261124) });
