/**
 * Starts a real OpenSSH server (Debian's openssh-server, /usr/sbin/sshd) on a free port on
 * 127.0.0.1 with a throwaway host key, for SFTP tests. As root (or with passwordless sudo,
 * as on CI runners), a throwaway user with a password and an authorized client key is
 * created (and removed by `dispose`); otherwise the server runs as the current user with
 * key authentication only and `password` is undefined.
 * A missing sshd is a test failure with a clear message, never a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

export interface SshdServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  /** Password of the user; undefined when not running as root (key auth only). */
  readonly password: string | undefined;
  /** Client private key without passphrase (OpenSSH format). */
  readonly privateKey: string;
  readonly privateKeyPath: string;
  /** Client private key protected by `passphrase`. */
  readonly encryptedPrivateKey: string;
  readonly passphrase: string;
  /** Host key fingerprint as ssh-keygen prints it ("SHA256:..."). */
  readonly hostKeySha256: string;
  /** A folder the user owns, absolute path usable as remote path (and locally, same machine). */
  readonly dataDir: string;
  /** Creates a file on the server (absolute path under dataDir), owned by the SFTP user, folders included. */
  put(remotePath: string, content: string | Buffer): Promise<void>;
  /** Everything sshd wrote to stderr so far (for failure messages). */
  log(): string;
  /** Stops sshd (the user and files stay, so `start()` can bring the same server back). */
  stop(): Promise<void>;
  /** Starts sshd again on the same port with the same keys. */
  start(): Promise<void>;
  /** Stops sshd and removes the user and all files. */
  dispose(): Promise<void>;
}

const sshdPath = (): string => process.env.SSHD_PATH ?? '/usr/sbin/sshd';

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  }
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}

/** Pids of all descendants of `root` (from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      /* process ended meanwhile */
    }
  }
  const out: number[] = [];
  const wanted = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (wanted.has(ppid) && !wanted.has(pid)) {
        wanted.add(pid);
        out.push(pid);
        grew = true;
      }
    }
  }
  return out;
}

export async function startSshd(): Promise<SshdServer> {
  const SSHD = sshdPath();
  if (!existsSync(SSHD)) {
    throw new Error(
      `OpenSSH server not found at ${SSHD}: the SFTP tests need a real sshd. Install it with ` +
        '`sudo apt-get install openssh-server` (the CI script .ci/run does this), or set SSHD_PATH.',
    );
  }
  const mode: 'root' | 'sudo' | 'user' =
    process.getuid?.() === 0 ? 'root' : spawnSync('sudo', ['-n', 'true']).status === 0 ? 'sudo' : 'user';
  const isRoot = mode !== 'user';
  /** Runs a command with root rights (directly as root, through sudo otherwise). */
  const priv = (cmd: string, args: string[], input?: string): string => (mode === 'sudo' ? run('sudo', ['-n', cmd, ...args], input) : run(cmd, args, input));
  const base = await mkdtemp(join(tmpdir(), 'ksef-sshd-'));
  await chmod(base, 0o755);
  const port = await freePort();
  let username: string;
  let password: string | undefined;
  let uid: number;
  let gid: number;
  if (isRoot) {
    username = `ksftp${randomBytes(4).toString('hex')}`;
    password = `pw-${randomBytes(9).toString('base64url')}`;
    priv('useradd', ['-M', '-d', join(base, 'home'), '-s', '/bin/sh', username]);
    priv('chpasswd', [], `${username}:${password}\n`);
    uid = Number(run('id', ['-u', username]).trim());
    gid = Number(run('id', ['-g', username]).trim());
    // privilege separation directory sshd needs when run as root
    priv('mkdir', ['-p', '-m', '0755', '/run/sshd']);
  } else {
    const me = userInfo();
    username = me.username;
    uid = me.uid;
    gid = me.gid;
  }
  const home = join(base, 'home');
  const dataDir = join(home, 'data');
  await mkdir(dataDir, { recursive: true });
  if (mode === 'sudo') priv('chown', ['-R', `${uid}:${gid}`, home]);
  else {
    await chown(home, uid, gid);
    await chown(dataDir, uid, gid);
  }

  const hostKey = join(base, 'ssh_host_ed25519_key');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ksef-test-host', '-f', hostKey]);
  const fp = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).split(/\s+/)[1] ?? '';
  const clientKey = join(base, 'client_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ksef-test-client', '-f', clientKey]);
  const passphrase = `pp-${randomBytes(6).toString('hex')}`;
  const encKey = join(base, 'client_enc_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'ksef-test-client-enc', '-f', encKey]);
  const authKeys = join(base, 'authorized_keys');
  await writeFile(authKeys, (await readFile(`${clientKey}.pub`, 'utf8')) + (await readFile(`${encKey}.pub`, 'utf8')), { mode: 0o644 });

  const config = join(base, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(base, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authKeys}`,
      'StrictModes no',
      // as root, shadow passwords are checked directly; unprivileged, PAM's account check avoids sshd refusing
      // users whose shadow entry is locked ("!" or "*", as for CI users without a password)
      `UsePAM ${isRoot ? 'no' : 'yes'}`,
      `PasswordAuthentication ${isRoot ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin no',
      `AllowUsers ${username}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      'MaxStartups 100',
      'MaxSessions 50',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async (): Promise<void> => {
    const args = ['-D', '-e', '-f', config];
    const proc = mode === 'sudo' ? spawn('sudo', ['-n', SSHD, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(SSHD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    // never leave an sshd behind when the test process ends without dispose()
    const onExit = () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    };
    process.once('exit', onExit);
    proc.once('exit', () => process.removeListener('exit', onExit));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = `sshd exited (${code ?? signal})`;
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${exited} before listening:\n${stderr}`);
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`sshd did not listen on 127.0.0.1:${port} within 15 s:\n${stderr}`);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    // sshd -D forks a process per connection that outlives the listener: end those too (by pid),
    // so that "stopped" means unreachable, as when the server goes down
    const sessions = c.pid ? descendants(c.pid) : [];
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 3000).unref();
    });
    // sshd -D leaves per-connection children serving open sessions; end them so "stopped" means unreachable
    if (mode === 'sudo' && sessions.length > 0) spawnSync('sudo', ['-n', 'kill', '-KILL', ...sessions.map(String)]);
    else {
      for (const pid of sessions) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await canConnect(port))) await new Promise((r) => setTimeout(r, 50));
  };

  const removeBase = async (): Promise<void> => {
    if (mode === 'sudo') spawnSync('sudo', ['-n', 'rm', '-rf', base]);
    else await rm(base, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (e) {
    if (isRoot) spawnSync(mode === 'sudo' ? 'sudo' : 'userdel', mode === 'sudo' ? ['-n', 'userdel', '-f', username] : ['-f', username]);
    await removeBase();
    throw e;
  }
  return {
    host: '127.0.0.1',
    port,
    username,
    password,
    privateKey: await readFile(clientKey, 'utf8'),
    privateKeyPath: clientKey,
    encryptedPrivateKey: await readFile(encKey, 'utf8'),
    passphrase,
    hostKeySha256: fp,
    dataDir,
    log: () => stderr,
    put: async (remotePath: string, content: string | Buffer) => {
      if (!remotePath.startsWith(dataDir + '/')) throw new Error(`put: ${remotePath} is not under ${dataDir}`);
      const dirs: string[] = [];
      for (let d = dirname(remotePath); d !== dataDir && d.startsWith(dataDir); d = dirname(d)) dirs.unshift(d);
      if (!isRoot) {
        await mkdir(dirname(remotePath), { recursive: true });
        await writeFile(remotePath, content);
        return;
      }
      for (const d of dirs) if (!existsSync(d)) priv('install', ['-d', '-o', String(uid), '-g', String(gid), d]);
      const tmp = join(base, `put-${randomBytes(4).toString('hex')}`);
      await writeFile(tmp, content, { mode: 0o644 });
      priv('install', ['-o', String(uid), '-g', String(gid), '-m', '0644', tmp, remotePath]);
      await rm(tmp, { force: true });
    },
    stop,
    start,
    dispose: async () => {
      await stop();
      if (isRoot) spawnSync(mode === 'sudo' ? 'sudo' : 'userdel', mode === 'sudo' ? ['-n', 'userdel', '-f', username] : ['-f', username]);
      await removeBase();
    },
  };
}
