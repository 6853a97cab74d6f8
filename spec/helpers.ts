/**
 * Small helpers shared by the specs (not a spec file itself).
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { Compiled, Tag } from '../lib/index.js';

/** Debian's Chromium, driven by playwright-core in the browser specs. */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

/**
 * Launches Chromium for a browser suite; without /usr/bin/chromium the suite
 * is skipped, unless CI is set: then it fails, so that a CI image without
 * the browser cannot pass silently.
 */
export async function launchChromium(suite: Mocha.Context): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium (apt-get install -y chromium)`);
    console.warn(`    skipped: ${CHROMIUM} not found (apt-get install -y chromium to run these specs)`);
    suite.skip();
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A promise the spec settles itself, which knows whether it has been settled. */
export function deferred<T = unknown>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void; settled: () => boolean } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  let done = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => { done = true; res(v); };
    reject = (e) => { done = true; rej(e); };
  });
  return { promise, resolve, reject, settled: () => done };
}

/**
 * A plain-data copy of a tree, built without the code under test, to detect
 * mutation: tags, precompiled runs and arrays are copied; other opaque values
 * are kept by reference.
 */
export function snapshot(node: unknown): unknown {
  if (node instanceof Tag) {
    return {
      tag: node.tagName,
      attributes: Object.entries(node.attributes).map(([k, v]) => [k, snapshot(v)]),
      children: node.children.map(snapshot),
      render: node.render, data: node.data, pattern: node.pattern, key: node.key, macro: node.macro,
      slotData: node.slotData === null ? null : [...node.slotData].map(([k, v]) => [k, snapshot(v)]),
    };
  }
  if (node instanceof Compiled) return { compiled: node.parts.map(snapshot) };
  if (Array.isArray(node)) return node.map(snapshot);
  return node;
}
