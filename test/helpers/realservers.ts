// Real servers from Debian packages, each on 127.0.0.1 with a throwaway
// configuration in a temporary directory: Dovecot (IMAP, POP3), vsftpd
// (FTP), Prosody (XMPP), PostgreSQL, PgBouncer (PostgreSQL's pooler),
// Exim (SMTP refusing a bare EHLO name). Each starts in a second or two; the
// test suite runs as root (CI does), and each is stopped by its own pid.

import { spawn, spawnSync, ChildProcess } from 'child_process';
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'fs';
import { connect } from 'net';
import { tmpdir, userInfo } from 'os';
import { join } from 'path';
import type { Cert } from './pki';
import { freePort } from './servers';

export interface RealServer {
  ports: Record<string, number>;
  dir: string;
  /** the server's log so far */
  log(): string;
  stop(): Promise<void>;
}

async function accepting(port: number, child: ChildProcess, name: string, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on ${port} within 30 s: ${output()}`);
}

function startProcess(name: string, command: string, args: string[], dir: string, logFile: string, ports: Record<string, number>, uid?: number, gid?: number): Promise<RealServer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, uid, gid });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8') + output;
    } catch {
      return output;
    }
  };
  const server: RealServer = {
    ports,
    dir,
    log,
    stop: () =>
      new Promise((resolve) => {
        const done = (): void => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
  return Promise.all(Object.values(ports).map((p) => accepting(p, child, name, log))).then(
    () => server,
    async (err: unknown) => {
      await server.stop();
      throw err;
    },
  );
}

/** Dovecot with IMAP and POP3 (STARTTLS/STLS offered), any user with password "secret". */
export async function startDovecot(leaf: Cert): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-dovecot-'));
  const imap = await freePort();
  const pop3 = await freePort();
  mkdirSync(join(dir, 'home'), { mode: 0o777 });
  chmodSync(join(dir, 'home'), 0o777);
  chmodSync(dir, 0o755);
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/log
instance_name = s6-test-${imap}
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <${leaf.certPath}
ssl_key = <${leaf.keyPath}
auth_mechanisms = plain
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/home/%u
}
mail_location = maildir:${dir}/home/%u/Maildir
service imap-login {
  inet_listener imap {
    port = ${imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  chroot =
}
`,
  );
  return startProcess('dovecot', 'dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], dir, join(dir, 'log'), { imap, pop3 });
}

/** vsftpd with AUTH TLS; anonymous logins are refused in cleartext ("530") and asked a password ("331") under TLS. */
export async function startVsftpd(leaf: Cert): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-vsftpd-'));
  const port = await freePort();
  mkdirSync(join(dir, 'empty'));
  chmodSync(dir, 0o755);
  writeFileSync(
    join(dir, 'vsftpd.conf'),
    `listen=YES
listen_address=127.0.0.1
listen_port=${port}
background=NO
anonymous_enable=YES
local_enable=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
rsa_cert_file=${leaf.certPath}
rsa_private_key_file=${leaf.keyPath}
secure_chroot_dir=${dir}/empty
anon_root=${dir}/empty
seccomp_sandbox=NO
ftp_username=nobody
vsftpd_log_file=${dir}/log
`,
  );
  return startProcess('vsftpd', 'vsftpd', [join(dir, 'vsftpd.conf')], dir, join(dir, 'log'), { ftp: port });
}

/** Prosody with STARTTLS required on c2s, anonymous authentication, for the host `host`. */
export async function startProsody(leaf: Cert, host: string): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-prosody-'));
  const port = await freePort();
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    join(dir, 'prosody.cfg.lua'),
    `run_as_root = true
daemonize = false
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
log = { { levels = { min = "info" }, to = "file", filename = "${dir}/log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
s2s_ports = { }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s", "http", "posix" }
certificates = "${dir}/none"
c2s_require_encryption = true
authentication = "anonymous"
VirtualHost "${host}"
  ssl = { certificate = "${leaf.certPath}", key = "${leaf.keyPath}" }
`,
  );
  return startProcess('prosody', 'prosody', ['--config', join(dir, 'prosody.cfg.lua')], dir, join(dir, 'log'), { xmpp: port });
}

/** PostgreSQL with ssl=on that accepts only TLS connections (hostssl trust). initdb refuses root: it runs as postgres. */
export async function startPostgres(leaf: Cert): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-postgres-'));
  const port = await freePort();
  const pg = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const uid = Number(pg.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  copyFileSync(leaf.certPath, join(dir, 'server.crt'));
  copyFileSync(leaf.keyPath, join(dir, 'server.key'));
  chmodSync(join(dir, 'server.key'), 0o600);
  for (const f of ['', 'server.crt', 'server.key']) chownSync(join(dir, f), uid, gid);
  // Debian installs one major version under /usr/lib/postgresql.
  const bin = join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1) ?? '15', 'bin');
  const init = spawnSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], { uid, gid, encoding: 'utf8', cwd: dir });
  if (init.status !== 0) throw new Error(`initdb failed (${userInfo().username}): ${init.stderr}`);
  writeFileSync(join(dir, 'data', 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 trust\n');
  const args = ['-D', join(dir, 'data'), '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'ssl=on',
    '-c', `ssl_cert_file=${dir}/server.crt`, '-c', `ssl_key_file=${dir}/server.key`, '-c', 'fsync=off'];
  return startProcess('postgres', join(bin, 'postgres'), args, dir, join(dir, 'none'), { postgres: port }, uid, gid);
}

/**
 * Exim with STARTTLS, strict about the EHLO name as RFC 5321 4.1.4 words
 * it: a name without a dot that is not an address literal is refused
 * (550). Messages are only queued (never delivered) in its spool, where
 * the test reads them back.
 */
export async function startExim(leaf: Cert): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-exim-'));
  const port = await freePort();
  chmodSync(dir, 0o755);
  // Exim opens its logs and reads its key as its own user.
  for (const sub of ['spool', 'log']) {
    mkdirSync(join(dir, sub));
    chmodSync(join(dir, sub), 0o1777);
  }
  copyFileSync(leaf.certPath, join(dir, 'cert.pem'));
  copyFileSync(leaf.keyPath, join(dir, 'key.pem'));
  chmodSync(join(dir, 'key.pem'), 0o644);
  writeFileSync(
    join(dir, 'exim.conf'),
    `keep_environment =
primary_hostname = mail.test
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
daemon_smtp_ports = ${port}
local_interfaces = 127.0.0.1
tls_advertise_hosts = *
tls_certificate = ${dir}/cert.pem
tls_privatekey = ${dir}/key.pem
queue_only = true
host_lookup =
rfc1413_hosts =
acl_smtp_helo = acl_check_helo
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_helo:
  deny message = HELO/EHLO name must be a FQDN or an address literal
       condition = \${if match{$sender_helo_name}{\\N^(\\[.*\\]|[^.]+\\.[^.].*)$\\N}{no}{yes}}
  accept
acl_check_rcpt:
  accept
`,
  );
  return startProcess('exim', 'exim4', ['-C', join(dir, 'exim.conf'), '-bdf', '-oX', String(port)], dir, join(dir, 'log', 'mainlog'), { smtp: port });
}

/**
 * PgBouncer, the PostgreSQL pooler, with TLS for its clients as `sslmode`
 * says ("allow": offered; "disable": SSLRequest answered N). No database
 * behind it: user "tester" reaches its admin console (database
 * "pgbouncer"), whose SHOW CLIENTS tells each client's TLS. PgBouncer will
 * not run as root: it switches to the postgres user.
 */
export async function startPgbouncer(leaf: Cert, sslmode: 'allow' | 'disable'): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 's6-pgbouncer-'));
  const port = await freePort();
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  copyFileSync(leaf.certPath, join(dir, 'cert.pem'));
  copyFileSync(leaf.keyPath, join(dir, 'key.pem'));
  chmodSync(join(dir, 'key.pem'), 0o600);
  writeFileSync(join(dir, 'users'), '"tester" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    `[databases]
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${dir}/users
admin_users = tester
logfile = ${dir}/log
client_tls_sslmode = ${sslmode}
client_tls_cert_file = ${dir}/cert.pem
client_tls_key_file = ${dir}/key.pem
`,
  );
  for (const f of ['', 'cert.pem', 'key.pem', 'users', 'pgbouncer.ini']) chownSync(join(dir, f), uid, gid);
  return startProcess('pgbouncer', 'pgbouncer', ['-u', 'postgres', join(dir, 'pgbouncer.ini')], dir, join(dir, 'log'), { postgres: port });
}
