// mqtt_flood.mjs: one device floods its own event topic over MQTT/TLS with
// MQTT.js: COUNT QoS 1 messages of SIZE random bytes, at most 20 awaiting
// their PUBACK, stopping at COUNT, after SECONDS, or when the broker closes
// the connection. Prints "sent N acked M closed 0|1".
// Usage: node mqtt_flood.mjs MQTT_MODULE PORT CA USER PASSWORD CLIENT_ID TOPIC SIZE COUNT SECONDS
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const [mod, port, ca, username, password, clientId, topic, size, count, seconds] = process.argv.slice(2);
const mqtt = createRequire(import.meta.url)(mod);
const until = Date.now() + Number(seconds) * 1000;
let sent = 0, acked = 0, closed = 0, inflight = 0;

const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
  ca: readFileSync(ca), username, password, clientId,
  reconnectPeriod: 0, connectTimeout: 10000, protocolVersion: 4, clean: true,
});
const finish = () => {
  console.log(`sent ${sent} acked ${acked} closed ${closed}`);
  c.end(true);
  process.exit(0);
};
const pump = () => {
  while (!closed && inflight < 20 && sent < Number(count) && Date.now() < until) {
    sent++;
    inflight++;
    c.publish(topic, randomBytes(Number(size)), { qos: 1 }, (err) => {
      inflight--;
      if (!err) acked++;
      if (inflight === 0 && (closed || sent >= Number(count) || Date.now() >= until)) finish();
      else pump();
    });
  }
};
c.on('connect', pump);
c.on('close', () => { closed = 1; if (inflight === 0) finish(); setTimeout(finish, 2000); });
c.on('error', () => {});
setTimeout(finish, Number(seconds) * 1000 + 5000);
