import autocannon from 'autocannon';
import { forkChild } from './util.js';
const { child, first } = await forkChild<{ port: number }>(['server', 'cached', '10'], ['--cpu-prof', '--cpu-prof-dir=/tmp/prof/out']);
const url = `http://127.0.0.1:${first.port}/`;
await autocannon({ url, connections: 50, duration: 2 });
const r = await autocannon({ url, connections: 50, duration: 8 });
console.log('req/s', r.requests.average);
child.send({ cmd: 'stop' });
await new Promise((res) => child.once('exit', res));
