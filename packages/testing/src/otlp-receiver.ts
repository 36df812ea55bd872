import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

/** A span as received over OTLP, with the fields tests look at. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Start and end, nanoseconds since the epoch. */
  startTimeNs: bigint;
  endTimeNs: bigint;
  attributes: Record<string, string | number | boolean>;
}

// A minimal reader for ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1): only the
// fields above. Written with protobuf-es's wire reader because no npm package ships the OTLP protos
// as a public, decodable API (the exporter's copy is internal).
function* fields(bytes: Uint8Array): Generator<[number, WireType, BinaryReader]> {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    yield [fieldNo, wireType, reader];
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function anyValue(bytes: Uint8Array): string | number | boolean {
  for (const [fieldNo, wireType, reader] of fields(bytes)) {
    if (fieldNo === 1) return reader.string();
    if (fieldNo === 2) return reader.bool();
    if (fieldNo === 3) return Number(reader.int64());
    if (fieldNo === 4) return reader.double();
    reader.skip(wireType);
  }
  return "";
}

function keyValue(bytes: Uint8Array): [string, string | number | boolean] {
  let key = "";
  let value: string | number | boolean = "";
  for (const [fieldNo, wireType, reader] of fields(bytes)) {
    if (fieldNo === 1) key = reader.string();
    else if (fieldNo === 2) value = anyValue(reader.bytes());
    else reader.skip(wireType);
  }
  return [key, value];
}

function span(bytes: Uint8Array, service: string): ReceivedSpan {
  const result: ReceivedSpan = {
    service,
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: 0,
    startTimeNs: 0n,
    endTimeNs: 0n,
    attributes: {},
  };
  for (const [fieldNo, wireType, reader] of fields(bytes)) {
    if (fieldNo === 1) result.traceId = hex(reader.bytes());
    else if (fieldNo === 2) result.spanId = hex(reader.bytes());
    else if (fieldNo === 4) result.parentSpanId = hex(reader.bytes());
    else if (fieldNo === 5) result.name = reader.string();
    else if (fieldNo === 6) result.kind = reader.int32();
    else if (fieldNo === 7) result.startTimeNs = BigInt(reader.fixed64());
    else if (fieldNo === 8) result.endTimeNs = BigInt(reader.fixed64());
    else if (fieldNo === 9) {
      const [key, value] = keyValue(reader.bytes());
      result.attributes[key] = value;
    } else reader.skip(wireType);
  }
  return result;
}

/** Decodes an ExportTraceServiceRequest into its spans. */
export function decodeTraceExport(bytes: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const [fieldNo, wireType, reader] of fields(bytes)) {
    if (fieldNo !== 1) {
      reader.skip(wireType);
      continue;
    }
    let service = "";
    const scopeSpans: Uint8Array[] = [];
    for (const [rsField, rsWire, rsReader] of fields(reader.bytes())) {
      if (rsField === 1) {
        for (const [resField, resWire, resReader] of fields(rsReader.bytes())) {
          if (resField !== 1) {
            resReader.skip(resWire);
            continue;
          }
          const [key, value] = keyValue(resReader.bytes());
          if (key === "service.name") service = String(value);
        }
      } else if (rsField === 2) scopeSpans.push(rsReader.bytes());
      else rsReader.skip(rsWire);
    }
    for (const scope of scopeSpans) {
      for (const [ssField, ssWire, ssReader] of fields(scope)) {
        if (ssField === 2) spans.push(span(ssReader.bytes(), service));
        else ssReader.skip(ssWire);
      }
    }
  }
  return spans;
}

/** An OTLP/gRPC trace receiver for tests: collects every exported span. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];

  private constructor(
    private readonly server: grpc.Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const server = new grpc.Server();
    let receiver: OtlpReceiver | undefined;
    server.addService(
      {
        Export: {
          path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
          requestStream: false,
          responseStream: false,
          requestSerialize: (value: Buffer) => value,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: (value: Buffer) => value,
          responseDeserialize: (bytes: Buffer) => bytes,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          receiver?.spans.push(...decodeTraceExport(call.request));
          callback(null, Buffer.alloc(0));
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${port}`);
    return receiver;
  }

  /** Spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((candidate) => candidate.traceId === traceId);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
