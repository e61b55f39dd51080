import { ProtocolFailure } from '@group-room/shared';
import { describeError as describe } from './describe-error';

/** A failure to enter, in words for the person holding the link. */
export function describeEntryFailure(error: unknown): string {
  if (error instanceof ProtocolFailure) {
    switch (error.code) {
      case 'NOT_FOUND':
        return 'This session does not exist or has already ended. Check the link with your facilitator.';
      case 'FORBIDDEN':
        return `${error.message}. If you think this is a mistake, contact your facilitator.`;
      case 'ROOM_FULL':
        return `${error.message}. Please contact your facilitator.`;
      case 'BAD_REQUEST':
        return `That was not accepted: ${error.message}.`;
      default:
        return error.message;
    }
  }
  return describe(error);
}
