// An SMTP submission client written for the C s6-ucspitlsc, as any such
// application is: it speaks cleartext SMTP on fds 6/7, sends STARTTLS,
// asks for TLS on $SSLCTLFD, then speaks again through $SSLWRITEFD and
// $SSLREADFD. Nothing in it knows which s6-ucspitlsc runs it. Python
// (/usr/bin/python3) so that it is plainly a separate, foreign program.
//
// argv: MODE TRANSCRIPT EXITCODE, MODE one of
//   Y / y     the whole submission, with or without the report
//   decline   close the control socket, then QUIT in cleartext on 6/7
//   bad       write "x" on the control socket, then wait for EOF on SSLREADFD
//   die       write "y" and exit at once
//   failing   write "Y", then record what the control socket and the pipes do
// The transcript (JSON) has every line read, and the report bytes in hex.

export const SMTP_APP = String.raw`
import json, os, sys
mode, transcript, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctl, rd, wr = (int(os.environ[k]) for k in ('SSLCTLFD', 'SSLREADFD', 'SSLWRITEFD'))
log = {'cleartext': [], 'tls': [], 'report': None, 'events': []}
def save():
    with open(transcript, 'w') as f: json.dump(log, f)
def reader(fd, into):
    buf = bytearray()
    def reply():
        lines = []
        while True:
            while b'\n' not in buf:
                chunk = os.read(fd, 4096)
                if not chunk:
                    log['events'].append('EOF on fd %d' % fd); save(); sys.exit(1)
                buf.extend(chunk)
            i = buf.index(b'\n')
            line = bytes(buf[:i]).decode().rstrip('\r'); del buf[:i + 1]
            lines.append(line); into.append(line)
            if len(line) < 4 or line[3] != '-': return lines
    return reply
def send(fd, text):
    data = (text + '\r\n').encode()
    while data: data = data[os.write(fd, data):]
def expect(lines, prefix):
    if not lines[-1].startswith(prefix):
        log['events'].append('unexpected reply: ' + lines[-1]); save(); sys.exit(1)
net = reader(6, log['cleartext'])
expect(net(), '220')
send(7, 'EHLO client.test')
ehlo = net()
expect(ehlo, '250')
if mode == 'decline':
    os.close(ctl)
    send(7, 'QUIT')
    expect(net(), '221')
    save(); sys.exit(code)
if not any(l[4:].upper() == 'STARTTLS' for l in ehlo):
    log['events'].append('no STARTTLS offered'); save(); sys.exit(1)
send(7, 'STARTTLS')
expect(net(), '220')
if mode == 'bad':
    os.write(ctl, b'x')
    log['events'].append('SSLREADFD: %r' % os.read(rd, 100))
    save(); sys.exit(code)
os.write(ctl, b'y' if mode in ('y', 'die') else b'Y')
if mode == 'die':
    save(); os._exit(code)
if mode in ('Y', 'failing'):
    report = b''
    while True:
        chunk = os.read(ctl, 4096)
        if not chunk: break
        report += chunk
    log['report'] = report.hex()
    # Who runs what: this program's uid, and that of the other processes
    # its parent started (the TLS side, when it runs apart).
    log['uid'] = os.getuid()
    log['siblings'] = []
    ppid = os.getppid()
    for task in os.listdir('/proc/%d/task' % ppid):
        for pid in open('/proc/%d/task/%s/children' % (ppid, task)).read().split():
            if int(pid) != os.getpid():
                for line in open('/proc/%s/status' % pid):
                    if line.startswith('Uid:'): log['siblings'].append(line.split()[1:])
if mode == 'failing':
    log['events'].append('SSLREADFD: %r' % os.read(rd, 100))
    # Our side closes both pipes on the failure, the write one maybe a moment
    # after prog saw EOF: writes must start failing, within 10 s.
    import time
    outcome = 'writes accepted for 10 s'
    for _ in range(1000):
        try:
            os.write(wr, b'EHLO client.test\r\n')
        except BrokenPipeError:
            outcome = 'write failed: EPIPE'
            break
        time.sleep(0.01)
    log['events'].append(outcome)
    save(); sys.exit(code)
tls = reader(rd, log['tls'])
send(wr, 'EHLO client.test')
expect(tls(), '250')
send(wr, 'MAIL FROM:<me@client.test>')
expect(tls(), '250')
send(wr, 'RCPT TO:<you@mail.test>')
expect(tls(), '250')
send(wr, 'DATA')
expect(tls(), '354')
send(wr, 'Subject: through s6-ucspitlsc\r\n\r\nsecret body line\r\n.')
expect(tls(), '250')
send(wr, 'QUIT')
expect(tls(), '221')
os.close(wr)
log['events'].append('after QUIT: %r' % os.read(rd, 100))
save(); sys.exit(code)
`;
