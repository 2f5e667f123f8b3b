// A Sparkplug B edge node made with Eclipse Tahu's JavaScript client, for
// tests/integration/mqtt_connector_test.cpp. Usage: node sparkplug_edge.js mqtt://127.0.0.1:PORT
// It publishes NBIRTH, DBIRTH (device d1, metrics with aliases) and a DDATA by alias; then a DDATA
// with a seq gap (the client's seq pushed forward by 5). Strata's host must answer the gap with a
// rebirth NCMD; the script then publishes NBIRTH, DBIRTH and a last DDATA and exits 0. Exit 2 when
// no rebirth request came within 20 s. Lines on stdout say what happened.
'use strict';
const sparkplug = require('sparkplug-client');

const url = process.argv[2];
const client = sparkplug.newClient({
  serverUrl: url,
  username: '',
  password: '',
  groupId: 'g1',
  edgeNode: 'e1',
  clientId: 'tahu-e1-' + process.pid,
  version: 'spBv1.0',
});

const now = () => Date.now();
let rebirths = 0;

function births(temp) {
  client.publishNodeBirth({
    timestamp: now(),
    metrics: [
      {name: 'uptime', alias: 1, type: 'UInt64', value: 3600},
      {name: 'Node Control/Rebirth', type: 'Boolean', value: false},
    ],
  });
  client.publishDeviceBirth('d1', {
    timestamp: now(),
    metrics: [
      {name: 'temp', alias: 10, type: 'Float', value: temp},
      {name: 'count', alias: 11, type: 'Int32', value: -3},
      {name: 'running', alias: 12, type: 'Boolean', value: true},
      {name: 'state', alias: 13, type: 'String', value: 'RUN'},
    ],
  });
}

client.on('birth', () => {
  if (rebirths > 0) return;
  births(20.5);
  client.publishDeviceData('d1', {
    timestamp: now(),
    metrics: [
      {alias: 10, type: 'Float', value: 21.25},
      {alias: 11, type: 'Int32', value: -7},
    ],
  });
  client.seq += 5;  // a gap: Strata must ask for a rebirth
  client.publishDeviceData('d1', {timestamp: now(), metrics: [{alias: 10, type: 'Float', value: 99}]});
  console.log('SENT gap');
});

client.on('ncmd', (payload) => {
  const rebirth = (payload.metrics || []).find((m) => m.name === 'Node Control/Rebirth');
  if (!rebirth || rebirth.value !== true || rebirths > 0) return;
  rebirths++;
  console.log('REBIRTH requested');
  births(22.5);
  client.publishDeviceData('d1', {timestamp: now(), metrics: [{alias: 10, type: 'Float', value: 23.75}]});
  clearTimeout(deadline);
  console.log('DONE');
  client.stop();  // mqtt.js end(): the queued publishes are written first; then node exits 0
});

client.on('error', (e) => console.log('ERROR ' + e.message));
const deadline = setTimeout(() => {
  console.log('TIMEOUT no rebirth request');
  process.exit(2);
}, 20000);
