import type { Logger } from '../logger.js';
import { roomTag } from '../logger.js';
import { expireTurn } from '../room/floor-commands.js';
import type { RoomChange, RoomState } from '../room/state.js';

type Apply = (roomId: string, change: RoomChange) => Promise<unknown>;

/**
 * A talking-stick turn with a limit and "pass on time-out": when its time is up, the server
 * applies expireTurn for that turn (a no-op if the turn has already moved on). One timer per
 * room, set by whichever node published the change that started the turn.
 */
export class TurnTimers {
  readonly #timers = new Map<string, { turn: number; timer: NodeJS.Timeout }>();
  readonly #apply: Apply;
  readonly #log: Logger;

  constructor(apply: Apply, log: Logger) {
    this.#apply = apply;
    this.#log = log;
  }

  schedule(state: RoomState): void {
    const { floor } = state;
    const due = floor.mode === 'round' && floor.round?.onTimeout === 'pass' ? floor.turnEndsAt : null;
    const existing = this.#timers.get(state.id);
    if (existing && (due === null || existing.turn !== floor.turn)) this.clear(state.id);
    if (due === null || this.#timers.has(state.id)) return;
    const turn = floor.turn;
    const timer = setTimeout(() => {
      this.#timers.delete(state.id);
      // At least `due`: a timer may fire a millisecond early by Date.now(), and the turn must
      // still pass then (nothing would try again in a quiet room).
      this.#apply(state.id, expireTurn(turn, Math.max(Date.now(), due))).catch((error: unknown) => {
        this.#log.warn('turn time-out not applied', { room: roomTag(state.id), error: error instanceof Error ? error.message : String(error) });
      });
    }, Math.max(0, due - Date.now()));
    timer.unref();
    this.#timers.set(state.id, { turn, timer });
  }

  clear(roomId: string): void {
    const existing = this.#timers.get(roomId);
    if (existing) clearTimeout(existing.timer);
    this.#timers.delete(roomId);
  }

  clearAll(): void {
    for (const roomId of [...this.#timers.keys()]) this.clear(roomId);
  }
}
