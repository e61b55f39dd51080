import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mediasoupWorkerPids } from '../support/prod-server.js';

/*
 * Which node's mediasoup worker a packet came from, read off /proc (no procps, no hook in the
 * server): each UDP port a worker holds is a socket inode in /proc/net/udp, and the worker's
 * /proc/<pid>/fd links name that inode. A receiver then knows which node forwarded each
 * packet by its source port, whatever the clients believe about where the room lives.
 */

export { mediasoupWorkerPids };

/** Local UDP port → socket inode, from /proc/net/udp (IPv4: everything here is on 127.0.0.1). */
function udpInodes(): Map<string, number> {
  const byInode = new Map<string, number>();
  let table = '';
  try {
    table = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return byInode;
  }
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const port = Number.parseInt(fields[1]!.split(':')[1] ?? '', 16);
    const inode = fields[9]!;
    if (Number.isFinite(port) && inode !== '0') byInode.set(inode, port);
  }
  return byInode;
}

/** The UDP ports each process holds (its sockets' inodes, matched in /proc/net/udp). */
export function udpPortsOf(pids: readonly number[]): Map<number, number> {
  const inodes = udpInodes();
  const owner = new Map<number, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // it ended while we looked
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(link);
      const port = match ? inodes.get(match[1]!) : undefined;
      if (port !== undefined) owner.set(port, pid);
    }
  }
  return owner;
}
