// ws_connect.mjs: connects to the ward broker over secure WebSockets with
// MQTT.js (the dashboard's own client library), as a browser that loaded
// the dashboard would, trying each client id in turn until SECONDS have
// passed or MAX attempts were made. Prints one line per outcome kind:
//   accepted ID N / refused ID N
// Usage: node ws_connect.mjs MQTT_MODULE PORT CA USER PASSWORD SECONDS MAX ID...
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const [mod, port, ca, user, password, seconds, max, ...ids] = process.argv.slice(2);
const mqtt = createRequire(import.meta.url)(mod);
const ca_pem = readFileSync(ca);
const until = Date.now() + Number(seconds) * 1000;
const counts = new Map();

function attempt(id) {
  return new Promise((resolve) => {
    const c = mqtt.connect(`wss://127.0.0.1:${port}/mqtt`, {
      ca: ca_pem, username: user, password, clientId: id,
      reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4,
    });
    let done = false;
    const finish = (what) => {
      if (done) return;
      done = true;
      const k = `${what} ${id}`;
      counts.set(k, (counts.get(k) || 0) + 1);
      c.end(true);
      resolve();
    };
    c.on('connect', () => finish('accepted'));
    c.on('error', () => finish('refused'));
    c.on('close', () => finish('refused'));
  });
}

let n = 0;
do {
  for (const id of ids) {
    await attempt(id);
    n++;
  }
} while (Date.now() < until && n < Number(max));
for (const [k, v] of counts) console.log(`${k} ${v}`);
