#!/usr/bin/python3
"""What makes a server cut its answer short after a client's half-close.

A TLS client over a memory BIO, so that every byte and every FIN on the TCP
socket is under our control (Python's SSLSocket cannot send a bare FIN and
keep reading). It sends one request, then ends its side the way MODE says,
reads the answer to the end and prints one JSON line per run:
  {"bytes": N, "end": "close_notify" | "fin" | "reset" | "timeout", ...}

usage: probe_halfclose.py HOST PORT SERVERNAME CAFILE TLSVERSION MODE RUNS [REQUEST]
  TLSVERSION  1.2 | 1.3
  MODE        comma-separated words:
    none        no half-close until the server has ended (like --no-shutdown)
    fin         bare FIN right after the request
    cn          close_notify right after the request (no FIN until the end)
    cnfin       close_notify then FIN right after the request (our -s on 1.3)
    first       wait for the first answer byte before the half-close
    delay=MS    wait MS milliseconds before the half-close
    after=BYTES wait until BYTES of the answer have arrived before the half-close
    cork        request and FIN in one TCP segment (TCP_CORK around both)
    nodelay     TCP_NODELAY on
    rcvbuf=N    SO_RCVBUF N before connecting (turns off autotuning)
    slow=MS     sleep MS between reads of 16 KiB (a slow reader)
    stall=MS    do not read anything for MS after the half-close
    idle=MS     half-close once the server has sent nothing for MS (or has ended)
"""

import json
import select
import socket
import ssl
import sys
import time


def run_once(host, port, servername, cafile, version, words, request):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    # Python sets this by default; without it a FIN with no close_notify is an SSLEOFError.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    v = ssl.TLSVersion.TLSv1_3 if version == '1.3' else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = v
    ctx.maximum_version = v
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=servername)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if 'rcvbuf' in words:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(words['rcvbuf']))
    if 'nodelay' in words:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(30)
    sock.connect((host, port))

    def flush():
        data = outgoing.read()
        if data:
            sock.sendall(data)

    def feed():
        """One recv into the TLS object; returns False on EOF."""
        data = sock.recv(65536)
        if not data:
            incoming.write_eof()
            return False
        incoming.write(data)
        return True

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            flush()
            if not feed():
                raise RuntimeError('EOF in handshake')
    flush()

    def half_close():
        if 'cn' in words or 'cnfin' in words:
            try:
                tls.unwrap()
            except ssl.SSLWantReadError:
                pass
            flush()
        if 'fin' in words or 'cnfin' in words:
            sock.shutdown(socket.SHUT_WR)

    tls.write(request)
    delayed = any(k in words for k in ('first', 'delay', 'after', 'none', 'idle'))
    if 'cork' in words:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    flush()
    if not delayed:
        half_close()
    if 'cork' in words:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
    if 'delay' in words:
        time.sleep(int(words['delay']) / 1000)
        half_close()
    if 'stall' in words:
        time.sleep(int(words['stall']) / 1000)

    closed = not delayed or 'delay' in words
    threshold = int(words.get('after', 1)) if ('first' in words or 'after' in words) else None
    got = 0
    end = None
    slow = int(words.get('slow', 0)) / 1000
    idle = int(words['idle']) / 1000 if 'idle' in words else None
    while end is None:
        if idle is not None and not closed:
            sock.settimeout(idle)
        try:
            alive = feed()
        except ConnectionResetError:
            end = 'reset'
            break
        except socket.timeout:
            if idle is not None and not closed:
                half_close()
                closed = True
                sock.settimeout(30)
                continue
            end = 'timeout'
            break
        while True:
            try:
                chunk = tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                end = 'close_notify'
                break
            except ssl.SSLError as e:
                if 'EOF' not in str(e):
                    raise
                end = 'fin'
                break
            if not chunk:
                end = 'close_notify'
                break
            got += len(chunk)
            if slow:
                time.sleep(slow)
        if end is None and not alive:
            end = 'fin'
        if not closed and threshold is not None and got >= threshold:
            half_close()
            closed = True
    sock.close()
    return got, end


def main():
    host, port, servername, cafile, version, mode, runs = sys.argv[1:8]
    request = (sys.argv[8] if len(sys.argv) > 8 else 'GET /big HTTP/1.0\r\nHost: localhost\r\n\r\n').encode().decode('unicode_escape').encode('latin1')
    words = {}
    for w in mode.split(','):
        k, _, v = w.partition('=')
        words[k] = v
    for _ in range(int(runs)):
        started = time.monotonic()
        got, end = run_once(host, int(port), servername, cafile, version, words, request)
        print(json.dumps({'bytes': got, 'end': end, 'ms': round((time.monotonic() - started) * 1000)}), flush=True)
        time.sleep(0.05)


if __name__ == '__main__':
    main()
