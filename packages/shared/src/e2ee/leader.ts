/*
 * Which browser hands out the room's media keys: the first online person in the room list who
 * came in with the facilitator link (only those hold the room secret). Every browser computes
 * it from the same view, so all agree; the server's choice of order cannot hurt, as every
 * holder of the room secret is trusted alike.
 */

export interface LeaderCandidate {
  id: string;
  role: string;
  connection: string;
}

export function keyLeader(members: readonly LeaderCandidate[] | undefined): string | null {
  return members?.find((m) => m.role === 'facilitator' && m.connection === 'online')?.id ?? null;
}
