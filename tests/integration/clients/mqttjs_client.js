// A device written with MQTT.js (node_modules/mqtt at the repository root), run by
// tests/integration/mqtt_endpoint_test.cpp against Strata's MQTT endpoint:
//   node mqttjs_client.js <port> <token> <device id> <count> <protocol version 4|5>
// It subscribes to its command topic, publishes <count> telemetry messages at QoS 1 (each awaited:
// the callback runs on PUBACK), prints "ready", then prints the first command it receives as one
// JSON line {"topic":...,"payload":...} and exits 0. Any error exits 1 with the reason on stderr.
'use strict';
const mqtt = require('mqtt');

const [port, token, device, count, version] = process.argv.slice(2);
const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
  clientId: `mqttjs-${device}-v${version}`,
  username: token,
  protocolVersion: Number(version),
  reconnectPeriod: 0,
  connectTimeout: 10000,
});

function fail(err) {
  process.stderr.write(`mqttjs_client: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
}

client.on('error', fail);
client.on('message', (topic, payload) => {
  process.stdout.write(JSON.stringify({topic, payload: payload.toString()}) + '\n');
  client.end(false, {}, () => process.exit(0));
});
client.on('connect', async () => {
  try {
    const granted = await client.subscribeAsync(`strata/v1/devices/${device}/commands/+`, {qos: 1});
    if (granted[0].qos !== 1) fail(`subscription granted QoS ${granted[0].qos}`);
    for (let i = 0; i < Number(count); i++) {
      const body = JSON.stringify({ts: 1700000000000 + i, values: {seq: i, speed: i * 0.25}});
      await client.publishAsync(`strata/v1/devices/${device}/telemetry`, body, {qos: 1});
    }
    process.stdout.write('ready\n');
  } catch (err) {
    fail(err);
  }
});
