// Writes points to Strata's /api/v2/write with InfluxDB's own JavaScript client
// (@influxdata/influxdb-client), its defaults unchanged except for retries (none, so a refusal
// is seen at once rather than retried for a minute): batching, gzip above 1000 bytes,
// `Authorization: Token …`, precision ns.
//   node influx_write.js <url> <api token> <measurement> <count> <first ts in ns>
// Point i: <measurement> level=i*0.25 at first + i ms. Prints "wrote <count>" and exits 0 once the
// server answered every batch with 204; prints the error and exits 1 otherwise.
'use strict';
const {InfluxDB, Point} = require('@influxdata/influxdb-client');

const [url, token, measurement, countText, firstText] = process.argv.slice(2);
const count = Number(countText);
const first = BigInt(firstText);

async function main() {
  const writeApi = new InfluxDB({url, token}).getWriteApi('strata-org', 'strata-bucket', 'ns', {
    maxRetries: 0,
  });
  for (let i = 0; i < count; ++i) {
    writeApi.writePoint(new Point(measurement)
                            .tag('site', 'plant-a')
                            .floatField('level', i * 0.25)
                            .timestamp((first + BigInt(i) * 1000000n).toString()));
  }
  await writeApi.close();
  console.log(`wrote ${count}`);
}

main().catch((e) => {
  console.log(`error: ${e && e.statusCode ? e.statusCode + ' ' : ''}${e && e.message ? e.message : e}`);
  process.exit(1);
});
