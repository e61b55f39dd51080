import type { Socket } from 'socket.io';

/**
 * Close a socket that holds no seat: one that has not entered a room `idleMs` after it
 * connected is closed (a page opens its socket when it enters or creates, so only a client
 * that holds sockets for nothing is cut off). One that entered is looked at again every
 * `idleMs`, and closed at such a look once it is in no room any more.
 */
export function closeWhenIdle(socket: Socket, seated: () => boolean, idleMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const look = (): void => {
    if (socket.disconnected) return;
    if (seated()) {
      timer = setTimeout(look, idleMs).unref();
      return;
    }
    socket.disconnect(true);
  };
  timer = setTimeout(look, idleMs).unref();
  socket.once('disconnect', () => clearTimeout(timer));
}
