import type { CommandOf, CommandType } from '@group-room/shared';
import type { RoomState } from './state.js';

/** A command's rule: runs only after the authorisation table allowed the actor; pure. */
export type Handler<T extends CommandType> = (state: RoomState, actorId: string, command: CommandOf<T>, now: number) => RoomState;

export type Handlers<T extends CommandType> = { [K in T]: Handler<K> };
