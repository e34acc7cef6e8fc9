// Passes an open file between two processes over a Unix socket (SCM_RIGHTS):
// the child writes through the fd it received, the parent reads what it wrote.
import { O_CREAT, O_RDWR, SEEK_SET } from 'unimem/uapi';
import type { Sys } from 'unimem';

export default async function main(sys: Sys): Promise<number> {
  const fd = await sys.open('/tmp/shared', O_RDWR | O_CREAT, 0o600);
  const [a, b] = await sys.socketpair();
  const child = await sys.fork(async (c: Sys) => {
    const msg = await c.recvmsg(b);
    await c.write(msg.fds[0]!, new TextEncoder().encode('written by the child'));
    return 0;
  });
  await sys.sendmsg(a, { data: new Uint8Array([1]), fds: [fd] });
  await sys.wait(child);
  await sys.lseek(fd, 0, SEEK_SET);
  const text = new TextDecoder().decode(await sys.read(fd, 64));
  await sys.write(1, new TextEncoder().encode(`parent read: ${text}\n`));
  return text === 'written by the child' ? 0 : 1;
}
