#!/usr/bin/python3
"""A TLS server on Python's ssl module, for the interop suite.

usage: py_tls_server.py CERT KEY MODE [FILE]
  MODE echo    send back every byte received; at the client's end (close_notify
               or a bare FIN) send close_notify and close
  MODE answer  read up to an empty line (an HTTP-style request), send an
               HTTP/1.0 200 header and FILE, then close_notify and close,
               whatever the client does meanwhile
Prints "PORT n" once listening on 127.0.0.1; serves until killed.
"""

import socket
import ssl
import sys
import threading


def serve_echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


def serve_answer(conn, body):
    request = b''
    while b'\r\n\r\n' not in request:
        data = conn.recv(4096)
        if not data:
            return
        request += data
    conn.sendall(body)


def handle(raw, ctx, mode, body):
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        if mode == 'echo':
            serve_echo(conn)
        else:
            serve_answer(conn, body)
        # Our close_notify, then the TCP close.
        conn.unwrap().close()
    except (ssl.SSLError, OSError):
        conn.close()


def main():
    cert, key, mode = sys.argv[1:4]
    body = b''
    if mode == 'answer':
        data = open(sys.argv[4], 'rb').read()
        body = b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n' % len(data) + data
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    print(f'PORT {listener.getsockname()[1]}', flush=True)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=handle, args=(raw, ctx, mode, body), daemon=True).start()


if __name__ == '__main__':
    main()
