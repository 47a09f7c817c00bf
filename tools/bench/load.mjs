// `./bench.sh --load N`: N busy loops, each a node child process spinning on one core, so the
// benchmark runs on a machine as busy as users' machines are. Stopped at the end, on error,
// and on ctrl-c (the children are also told to exit when their parent's pipe closes).
import { spawn } from 'node:child_process';

// The child spins; its stdin is a pipe from us, so it also exits if we die without cleanup.
const SPIN = "process.stdin.on('close', () => process.exit(0)); process.stdin.resume(); setImmediate(function spin() { const end = Date.now() + 50; while (Date.now() < end); setImmediate(spin); });";

/** Starts `n` busy processes; returns { pids, stop } (stop is idempotent). */
export function startLoad(n) {
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['-e', SPIN], { stdio: ['pipe', 'ignore', 'inherit'] }));
  const onSignal = (sig) => {
    stop();
    process.kill(process.pid, sig);
  };
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    process.off('exit', stop);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('exit', stop);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { pids: children.map((c) => c.pid), stop };
}
