// The URL-state parser on arbitrary fragments (a property test standing in for a fuzzer: the
// parser is JavaScript): it never throws, and returns only well-typed fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readState } from '../../www/url-state.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const PIECES = ['model=', 'image=', 'method=', 'params=', 'display=', 'target=', '&', '#', '%', '%7B', '{', '}', '"', ':', ',', '[', ']',
  'null', '-1', '1e309', 'NaN', '__proto__', 'constructor', 'steps', '💥', '\u0000', '=', 'integrated-gradients', '%ZZ', '%E0%A4%A'];

// A million, as the fuzz targets' goal (about 3 s).
const RUNS = 1_000_000;

test(`readState never throws and types its fields, on ${RUNS} random fragments`, () => {
  const r = rng(42);
  for (let i = 0; i < RUNS; i++) {
    let h = '';
    const n = Math.floor(r() * 12);
    for (let k = 0; k < n; k++) h += r() < 0.7 ? PIECES[Math.floor(r() * PIECES.length)] : String.fromCharCode(Math.floor(r() * 0x3000));
    const s = readState(h);
    for (const k of ['model', 'image', 'method']) assert.ok(s[k] === undefined || typeof s[k] === 'string', `${k} from ${JSON.stringify(h)}`);
    assert.ok(s.target === undefined || (Number.isInteger(s.target) && s.target >= 0), `target from ${JSON.stringify(h)}`);
    for (const k of ['params', 'display']) assert.ok(s[k] === undefined || s[k] === null || typeof s[k] !== 'function', k);
  }
});

test('readState restores what writeState-style fragments carry', () => {
  const s = readState('#model=mnist_cam&image=images%2Fdigit_7.png&method=grad-cam&params=%7B%22layer%22%3A%22x%22%7D&target=3');
  assert.deepEqual(s, { model: 'mnist_cam', image: 'images/digit_7.png', method: 'grad-cam', params: { layer: 'x' }, display: undefined, target: 3 });
  assert.equal(readState('#target=-4').target, undefined);
  assert.equal(readState('#params=%7Bbroken').params, undefined);
});
