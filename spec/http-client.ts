/**
 * A small HTTP client for specs over real sockets: `get` through node:http,
 * `raw` writes a request exactly as given (a raw target, HTTP/1.0, no Host)
 * and reads the answer until the server closes, noting whether it closed
 * cleanly (FIN) or with a reset.
 */
import http from 'node:http';
import net from 'node:net';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET (or another method) on 127.0.0.1:port, without keep-alive. */
export function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RawAnswer {
  /** Everything received, head and body. */
  text: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The connection ended with ECONNRESET rather than a clean close. */
  reset: boolean;
}

/** Sends `request` as is and reads until the connection ends. */
export function raw(port: number, request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let reset = false;
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => { text += c; });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
      else reject(err);
    });
    socket.on('close', () => {
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const lines = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      resolve({ text, status: Number(lines[0]?.split(' ')[1] ?? 0), headers, body: end === -1 ? '' : text.slice(end + 4), reset });
    });
    socket.write(request);
  });
}

/** Listens on a free loopback port; answers the port and a close function. */
export async function listen(handler: http.RequestListener): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
