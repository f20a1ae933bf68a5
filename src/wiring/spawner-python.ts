// The spawner of progs in Python (src/wiring/spawner.ts): a Python process
// starts a prog with posix_spawn (a vfork, then exec), for a fraction of what
// Node's spawn costs: Node forks its whole address space, and the fork and
// the exec that tears it down again cost the server 6-7 ms of CPU per prog
// (`npm run bench -- --tlsserver`, doc/benchmark.md). Used when a python3
// (3.8 or later) is on the machine; without one, progs are started by Node.
//
// It speaks Node's IPC wire format on NODE_CHANNEL_FD, as a forked Node
// spawner would: JSON lines, and a descriptor passed (SCM_RIGHTS) with a
// NODE_HANDLE message of type net.Socket, one at a time, each sent only once
// Node acknowledged the one before (NODE_HANDLE_ACK). That format is Node's
// own, not a documented API: test/tlsserver.test.ts starts every prog
// through this helper, so a Node that changes it fails the tests.
// Same requests and answers as the Node spawner: start, signal; ready, in,
// out, failed, exit.

/** The helper's exit code when this Python cannot serve (too old): progs are then started by Node. */
export const PYTHON_UNUSABLE = 100;

export const PYTHON_SPAWNER = String.raw`
import errno, json, os, select, signal, socket, sys
from array import array

# Exit code that tells the server this Python cannot serve (too old): it then starts progs itself.
UNUSABLE = ${PYTHON_UNUSABLE}
if not hasattr(os, 'posix_spawn') or not hasattr(socket, 'CMSG_LEN'):
    sys.exit(UNUSABLE)

null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.close(null)
channel = socket.socket(fileno=int(os.environ.pop('NODE_CHANNEL_FD')))
channel.set_inheritable(False)
channel.setblocking(True)
identity = json.loads(os.environ.pop('S6_TLSSERVER_SPAWNER', '{}'))


def say(message):
    try:
        os.write(2, ('s6-tlsserver (spawner): fatal: %s\n' % message).encode('utf-8', 'replace'))
    except OSError:
        pass


# setgroups, setgid, setuid: the uid last, since it ends the right to change the others.
try:
    if 'groups' in identity:
        os.setgroups(identity['groups'])
    elif 'gid' in identity:
        os.setgroups([identity['gid']])
    if 'gid' in identity:
        os.setgid(identity['gid'])
    if 'uid' in identity:
        os.setuid(identity['uid'])
except OSError as e:
    say("unable to take prog's identity %s: %s" % (json.dumps(identity, separators=(',', ':')), e.strerror))
    sys.exit(111)

# prog starts as from Node's spawn: every signal at its default action, none blocked.
DEFAULTS = {s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)}
signal.signal(signal.SIGINT, signal.SIG_DFL)
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
signal.signal(signal.SIGCHLD, lambda *_: None)

running = {}  # pid -> request id
outbox = []  # (message, fd or None), in order
unacked = None  # [message, fd, retries]: a descriptor in flight, until Node acknowledges it
connected = True


def write(message, fd):
    data = (json.dumps(message, separators=(',', ':')) + '\n').encode()
    if fd is None:
        channel.sendall(data)
        return
    sent = channel.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array('i', [fd]))])
    if sent < len(data):
        channel.sendall(data[sent:])


def flush():
    """Sends what waits, one descriptor at a time as Node's IPC requires."""
    global unacked, connected
    while connected and unacked is None and outbox:
        message, fd = outbox.pop(0)
        try:
            if fd is None:
                write(message, None)
            else:
                wrapped = {'cmd': 'NODE_HANDLE', 'type': 'net.Socket', 'msg': message}
                write(wrapped, fd)
                unacked = [wrapped, fd, 0]
        except OSError:
            disconnect()


def send(message, fd=None):
    if not connected:
        if fd is not None:
            os.close(fd)
        return
    outbox.append((message, fd))
    flush()


def disconnect():
    global connected, unacked
    connected = False
    for _, fd in outbox:
        if fd is not None:
            os.close(fd)
    outbox.clear()
    if unacked:
        os.close(unacked[1])
        unacked = None


def executable(name, path):
    """Where execvp would find name: the first match in prog's own PATH."""
    if '/' in name:
        return [name]
    return [os.path.join(d or '.', name) for d in path.split(':')]


def start(m):
    argv, env = m['argv'], m['env']
    # Two socket pairs, one per direction: prog reads one and writes the other.
    to_prog, from_prog = socket.socketpair(), socket.socketpair()
    ours, theirs = (to_prog[0], from_prog[0]), (to_prog[1], from_prog[1])
    actions = [(os.POSIX_SPAWN_DUP2, theirs[0].fileno(), m['rfd']), (os.POSIX_SPAWN_DUP2, theirs[1].fileno(), m['wfd'])]
    pid, error = None, errno.ENOENT
    try:
        for candidate in executable(argv[0], env.get('PATH', '/usr/bin:/bin')):
            if '/' not in argv[0] and not os.path.isfile(candidate):
                continue
            try:
                pid = os.posix_spawn(candidate, argv, env, file_actions=actions, setsigmask=(), setsigdef=DEFAULTS)
                break
            except OSError as e:
                error = e.errno
                if e.errno not in (errno.EACCES, errno.ENOENT, errno.ENOTDIR):
                    break
    except ValueError as e:  # a NUL in an argument or a variable
        send({'t': 'failed', 'id': m['id'], 'message': 'unable to spawn %s: %s' % (argv[0], e)})
        pid = -1
    finally:
        for s in theirs:
            s.close()
    if pid is None:
        send({'t': 'failed', 'id': m['id'], 'message': 'unable to spawn %s: %s' % (argv[0], os.strerror(error))})
    if pid is None or pid < 0:
        for s in ours:
            s.close()
        return
    running[pid] = m['id']
    # Non-blocking, as libuv's own socket pairs: Node's event loop takes the
    # descriptor as it comes, and one blocking write to a full channel would
    # stop every connection. (prog's ends are other file descriptions: blocking.)
    for s in ours:
        s.setblocking(False)
    # Node takes our ends: ours[0] is written to prog, ours[1] read from it.
    send({'t': 'in', 'id': m['id'], 'pid': pid}, ours[0].detach())
    send({'t': 'out', 'id': m['id']}, ours[1].detach())


def received(m):
    global unacked
    cmd = m.get('cmd')
    if cmd in ('NODE_HANDLE_ACK', 'NODE_HANDLE_NACK') and unacked:
        wrapped, fd, retries = unacked
        unacked = None
        if cmd == 'NODE_HANDLE_NACK' and retries < 3:
            try:
                write(wrapped, fd)
                unacked = [wrapped, fd, retries + 1]
            except OSError:
                os.close(fd)
                disconnect()
            return
        os.close(fd)
        flush()
    elif m.get('t') == 'start':
        try:
            start(m)
        except Exception as e:  # whatever it is, that prog's connection fails, not the server
            send({'t': 'failed', 'id': m.get('id'), 'message': 'unable to spawn %s: %s' % ((m.get('argv') or ['prog'])[0], e)})
    elif m.get('t') == 'signal':
        for pid in list(running):
            for name in m['signals']:
                try:
                    os.kill(pid, getattr(signal, name))
                except (OSError, AttributeError):
                    pass


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ident = running.pop(pid, None)
        if ident is not None:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            send({'t': 'exit', 'id': ident, 'code': code})


send({'t': 'ready'})
pending = b''
while connected or running:
    watched = [wake_r, channel] if connected else [wake_r]
    readable, _, _ = select.select(watched, [], [])
    if wake_r in readable:
        try:
            os.read(wake_r, 512)
        except BlockingIOError:
            pass
    reap()
    if connected and channel in readable:
        try:
            data = channel.recv(65536)
        except OSError:
            data = b''
        if not data:
            # The server is gone: nothing more to start; progs finish on their own.
            disconnect()
            continue
        pending += data
        *lines, pending = pending.split(b'\n')
        for line in lines:
            if line:
                received(json.loads(line))
`;
