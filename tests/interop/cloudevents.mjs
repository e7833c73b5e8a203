// CloudEvents built and read by the official JavaScript SDK (cloudevents), in the three HTTP
// content modes: the messages it sends, and what it reads back from them. Used by the
// end-to-end interop tests; reads JSON on stdin:
//   {mode: "binary" | "structured" | "batch", events: [{source, type, subject, time, data}]}
//   -> [{headers, body, parsed: [{id, source, type, subject, time}]}]
// Binary and structured give one message per event (the SDK's own HTTP.binary and
// HTTP.structured); batch gives one message holding every event, as the SDK reads a batch
// (application/cloudevents-batch+json, a JSON array of structured events): the SDK has no
// batch emitter, so the array is its events' own JSON.
import { readFileSync } from "node:fs";
import { CloudEvent, HTTP } from "cloudevents";

const { mode, events } = JSON.parse(readFileSync(0, "utf8"));
const built = events.map((attributes) => new CloudEvent(attributes));

function read(message) {
  const parsed = HTTP.toEvent(message);
  return (Array.isArray(parsed) ? parsed : [parsed]).map((event) => ({
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time: event.time,
  }));
}

let messages;
if (mode === "batch") {
  const body = JSON.stringify(built);
  messages = [{ headers: { "content-type": "application/cloudevents-batch+json" }, body }];
} else {
  const emit = mode === "binary" ? HTTP.binary : HTTP.structured;
  messages = built.map((event) => {
    const { headers, body } = emit(event);
    return { headers, body: typeof body === "string" ? body : JSON.stringify(body) };
  });
}
const output = messages.map((message) => ({ ...message, parsed: read(message) }));
process.stdout.write(JSON.stringify(output));
