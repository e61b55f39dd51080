/**
 * mediasoup's parameter interfaces and our loose zod schemas describe the same JSON, but
 * TypeScript cannot relate an interface to an index-signature type. This is the one place
 * that crossing is asserted; the schema has already checked the shape (inbound) and mediasoup
 * produced the value (outbound).
 */
export function asWire<T>(value: object): T {
  return value as T;
}
