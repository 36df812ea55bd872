/** Encodes and decodes one protobuf message type (the shape of a ts-proto message object). */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: never): T;
}

/**
 * An event Agora publishes, as declared in proto/ with the (agora.options.v1.event) option.
 * The generated catalog in `gen/events.ts` holds one per event message.
 */
export interface EventType<T> {
  /** Event type and NATS subject, for example "agora.order.confirmed". */
  readonly type: string;
  /** Bounded context that publishes it, for example "order"; its stream is AGORA_ORDER. */
  readonly context: string;
  /** Kind of aggregate the event is about, for example "order". */
  readonly aggregateType: string;
  /** Fully qualified protobuf name of the payload, for example "agora.order.v1.OrderConfirmed". */
  readonly typeName: string;
  /** Encodes and decodes the payload. */
  readonly codec: MessageCodec<T>;
}
