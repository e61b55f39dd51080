import { ProtocolFailure } from '@group-room/shared';
import { markCheckedOut, unmarkCheckedOut } from '../../room/checkout-commands.js';
import type { Connection } from '../connection.js';
import { CheckoutAnswerLimit } from '../request-limits.js';
import type { RequestHandlers } from '../request-router.js';
import { sealedBoxes } from './sealed-boxes.js';

/*
 * The check-out's answers. A member's answer is sealed in their browser, one box per
 * facilitator's browser: the server records only that they answered (the state's `done`), hands
 * each facilitator connected here the box addressed to them, and forgets it. An answer is never
 * logged, never stored, never sent to anyone but its facilitator.
 */

const noFacilitator = () => new ProtocolFailure('INVALID_STATE', 'No facilitator is connected right now');

/** Limited per person, whichever connection they come from (one limiter per process). */
const answerLimit = new CheckoutAnswerLimit();

export function checkoutHandlers(conn: Connection): Pick<RequestHandlers, 'checkout:answer'> {
  return {
    'checkout:answer': async ({ checkoutId, sealed }) => {
      const { room, memberId } = conn.requireEntered();
      const boxes = sealedBoxes(sealed, 'sealed');
      // Counted first, so refused attempts are limited too.
      await answerLimit.take(room.id, memberId);
      // Refused as the change would be (not a member in the room, no such check-out open,
      // answered already), before it takes a place in the room's queue.
      const known = room.latest;
      if (known) markCheckedOut(memberId, checkoutId)(known);
      await conn.queuing(() =>
        room.run(async () => {
          // Marked only when a facilitator is here to receive it: an answer lost on the way
          // could not be given again.
          if (!room.facilitatorsHere().some((id) => boxes.has(id))) throw noFacilitator();
          await room.change(markCheckedOut(memberId, checkoutId));
          const at = Date.now();
          // In the same task as the change: every facilitator who sees this member done has had their box.
          const delivered = room.toFacilitatorsEach('checkout:answer', (facilitatorId) => {
            const box = boxes.get(facilitatorId);
            return box === undefined ? null : { checkoutId, from: memberId, sealed: box, at };
          });
          if (delivered === 0) {
            // Everyone it was for went while it was being recorded: the mark is taken back
            // (still in this task, so no later answer sees it), and the page may send it again.
            await room.change(unmarkCheckedOut(memberId, checkoutId));
            throw noFacilitator();
          }
        }),
      );
      return {};
    },
  };
}
