// Scripted line servers for what no light Debian package serves (NNTP) and
// for the misbehaving servers of the bad cases: each connection runs a
// script of "send this, expect that", and may start TLS on the socket.

import { createServer, Server, Socket } from 'net';
import { TLSSocket, createSecureContext } from 'tls';
import type { Cert } from './pki';
import { readFileSync } from 'fs';

export interface Conversation {
  /** sends raw bytes */
  send(text: string | Buffer): void;
  /** the next line the client sends, without CRLF */
  line(): Promise<string>;
  /** switches to TLS as the server; later send/line go through it */
  startTls(leaf: Cert): Promise<void>;
  close(): void;
}

export interface ScriptedServer {
  port: number;
  /** one entry per connection: what the script saw or a thrown error */
  transcripts: string[][];
  close(): Promise<void>;
}

function conversation(socket: Socket, transcript: string[]): Conversation {
  let stream: Socket | TLSSocket = socket;
  let buffer = '';
  let waiting: (() => void) | undefined;
  let ended = false;
  const attach = (s: Socket | TLSSocket): void => {
    s.on('data', (c: Buffer) => {
      buffer += c.toString('latin1');
      waiting?.();
    });
    s.on('end', () => {
      ended = true;
      waiting?.();
    });
    s.on('error', () => undefined);
  };
  attach(socket);
  return {
    send: (text) => stream.write(text),
    line: async () => {
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          transcript.push(line);
          return line;
        }
        if (ended) throw new Error('client closed');
        await new Promise<void>((r) => (waiting = r));
      }
    },
    startTls: async (leaf) => {
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      const tls = new TLSSocket(socket, {
        isServer: true,
        secureContext: createSecureContext({ cert: readFileSync(leaf.certPath), key: readFileSync(leaf.keyPath) }),
      });
      stream = tls;
      attach(tls);
      await new Promise<void>((resolve, reject) => {
        tls.once('secure', resolve);
        tls.once('error', reject);
      });
      transcript.push(`(TLS ${tls.getProtocol()})`);
    },
    close: () => stream.end(),
  };
}

export async function startScriptedServer(script: (c: Conversation) => Promise<void>): Promise<ScriptedServer> {
  const transcripts: string[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const transcript: string[] = [];
    transcripts.push(transcript);
    script(conversation(socket, transcript)).catch((err: Error) => {
      transcript.push(`(error: ${err.message})`);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    transcripts,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
