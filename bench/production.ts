/**
 * Imported first by bench/page.ts: React (and anything else that reads it)
 * is measured in its production build, as it would be served. Set before
 * React's modules evaluate; an explicit NODE_ENV is left alone.
 */
process.env.NODE_ENV ??= 'production';

export const nodeEnv: string = process.env.NODE_ENV;
