import { SseParser } from "../src/sse";

describe("SseParser", () => {
  const stream = ': hello\n\ndata: {"a":1}\n\nevent: update\nid: 7\ndata: line one\ndata: line two\n\n';

  it("parses events, comments, named events, ids and multi-line data", () => {
    const parser = new SseParser();
    expect(parser.push(stream)).toEqual([
      { event: "message", data: '{"a":1}' },
      { event: "update", data: "line one\nline two", id: "7" },
    ]);
  });

  it("gives the same events however the stream is split, including inside a CRLF", () => {
    const crlf = stream.replace(/\n/g, "\r\n");
    const whole = new SseParser().push(crlf);
    for (let size = 1; size <= 7; size++) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < crlf.length; i += size) events.push(...parser.push(crlf.slice(i, i + size)));
      expect(events).toEqual(whole);
    }
    expect(whole).toHaveLength(2);
  });

  it("accepts CR line ends, fields without a space and drops an unfinished event at the end", () => {
    const parser = new SseParser();
    expect(parser.push("data:x\r\rdata: y")).toEqual([{ event: "message", data: "x" }]);
    expect(parser.end()).toEqual([]);
  });
});
